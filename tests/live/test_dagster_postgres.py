"""Dagster's own storage (runs, events, schedules) on PostgreSQL (dagster-postgres), with a
materialization of the ingest asset on the production lake; the S3 secret never reaches Dagster's
storage (run config, events, metadata)."""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from dagster_accidents.assets.bronze import bronze_ingest
from dagster_accidents.resources import BaacSourceResource, resources_from_settings
from pipeline.core.settings import Settings
from tests.live.conftest import S3_KEY, S3_SECRET

pytestmark = pytest.mark.slow


def test_materialization_recorded_in_postgres_and_no_secret_stored(postgres_server, production_env, tmp_path,
                                                                    monkeypatch):
    storage_url = postgres_server.url(postgres_server.new_database("dagster"))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: \"{storage_url}\"\ntelemetry:\n  enabled: false\n")
    for key, value in production_env.items():
        monkeypatch.setenv(key, value)  # secrets reach the resources as dg.EnvVar, resolved in the run
    settings = Settings.from_env(production_env)
    resources = resources_from_settings(settings, production_env)
    resources["baac_source"] = BaacSourceResource(source="demo")  # production defaults to data.gouv.fr

    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize([bronze_ingest], partition_key="988|2023", resources=resources, instance=instance)
        assert result.success
        event = instance.get_latest_materialization_event(dg.AssetKey(["bronze", "accidents"]))
        assert event is not None and event.run_id == result.run_id
        rows = event.asset_materialization.metadata["dagster/row_count"].value
        assert rows > 100

    with psycopg.connect(storage_url) as db:
        stored = db.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
                            "AND run_id = %s", [result.run_id]).fetchone()[0]
        assert stored >= 1
        for secret in (S3_SECRET, S3_KEY):
            for table, column in (("event_logs", "event"), ("runs", "run_body")):
                leaked = db.execute(f"SELECT count(*) FROM {table} WHERE {column} LIKE %s",
                                    [f"%{secret}%"]).fetchone()[0]
                assert leaked == 0, f"{secret!r} stored in {table}"
