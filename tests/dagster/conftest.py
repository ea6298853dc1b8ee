"""Shared helpers for the Dagster tests: a temporary embedded lake and its resources."""

from __future__ import annotations

import pytest

from dagster_accidents.resources import BaacSourceResource, DuckLakeResource, MLflowResource


@pytest.fixture
def lake_resource(tmp_path) -> DuckLakeResource:
    return DuckLakeResource(data_dir=str(tmp_path / "data"))


@pytest.fixture
def lake_con(lake_resource):
    with lake_resource.connect() as con:
        yield con


@pytest.fixture
def resources(lake_resource) -> dict:
    return {"lake": lake_resource, "mlflow": MLflowResource(), "baac_source": BaacSourceResource()}
