"""Resources: the DuckLake lake (builds a pipeline `Settings` and opens `pipeline.core.lake.connect`),
the BAAC/OSM source, and MLflow. Secrets are `dg.EnvVar` in production, never plain strings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from pipeline.core.lake import lake_connection
from pipeline.core.settings import S3Settings, Settings
from pipeline.sources.select import open_source

if TYPE_CHECKING:
    import duckdb


class DuckLakeResource(dg.ConfigurableResource):
    """The lake. Default: embedded SQLite catalog + Parquet under `data_dir` (nothing to start)."""

    data_dir: str = "data"
    catalog: str = Field(default="sqlite", description="sqlite | duckdb (embedded) | postgres")
    postgres_dsn: str | None = Field(default=None, description="libpq DSN without password (PGPASSWORD)")
    data_path: str | None = Field(default=None, description="Parquet location, e.g. s3://bucket/lake/")
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_url_style: str = "path"
    s3_use_ssl: bool = True
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    retry_count: int = 100
    departments: list[str] = ["988"]
    datagouv_api: str = "https://www.data.gouv.fr/api/1"
    seed: int = 42

    def settings(self) -> Settings:
        s3 = S3Settings(
            endpoint=self.s3_endpoint or None, region=self.s3_region,
            access_key_id=self.s3_access_key_id or None,
            secret_access_key=self.s3_secret_access_key or None,
            url_style=self.s3_url_style, use_ssl=self.s3_use_ssl,
        )
        return Settings(
            data_dir=Path(self.data_dir), catalog=self.catalog, postgres_dsn=self.postgres_dsn or None,
            data_path=self.data_path or None, s3=s3, retry_count=self.retry_count,
            departments=tuple(self.departments), datagouv_api=self.datagouv_api, seed=self.seed,
        )

    @property
    def department(self) -> str:
        """The first configured département (the CLI's default)."""
        return self.departments[0]

    def settings_for(self, dep: str) -> Settings:
        """The settings of one département's partition: its slice of the lake, its models, its time zone."""
        return self.settings().for_departments(dep)

    @contextmanager
    def connect(self, *, read_only: bool = False, dep: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The lake, reading and writing département `dep`'s rows (default: the first configured)."""
        settings = self.settings_for(dep) if dep else self.settings()
        with lake_connection(settings, read_only=read_only) as con:
            yield con


class MLflowResource(dg.ConfigurableResource):
    """MLflow tracking + registry. Empty tracking_uri = the lake's embedded store
    (`sqlite:///<data_dir>/mlflow/mlflow.db`, i.e. `Settings.resolved_mlflow_uri`)."""

    tracking_uri: str = ""

    def uri_for(self, settings: Settings) -> str:
        return self.tracking_uri or settings.resolved_mlflow_uri


class BaacSourceResource(dg.ConfigurableResource):
    """Where BAAC files, roads and (demo only) the truth come from: 'demo' (offline, SYNTHETIC),
    'datagouv' or a folder — `pipeline.sources.select.open_source` decides what each one has."""

    source: str = "demo"
    demo_scale: float = 1.0
    dataset_slug: str = "53698f4ca3a729239d2036df"  # the BAAC dataset id on data.gouv.fr

    def open(self, settings: Settings):
        return open_source(self.source, settings, scale=self.demo_scale)


def _secret(environ, *names: str) -> dg.EnvVar | None:
    """An EnvVar for the first of `names` that is set: Dagster resolves it in the run, so the
    value never enters the definitions, the UI or the run config."""
    for name in names:
        if environ.get(name):
            return dg.EnvVar(name)
    return None


def resources_from_settings(settings: Settings, environ) -> dict[str, dg.ConfigurableResource]:
    """The resources for this environment. `settings` is `Settings.from_env()`; secrets (S3 keys)
    are passed as EnvVar names only."""
    lake = DuckLakeResource(
        data_dir=str(settings.data_dir), catalog=settings.catalog, postgres_dsn=settings.postgres_dsn,
        data_path=settings.data_path, s3_endpoint=settings.s3.endpoint, s3_region=settings.s3.region,
        s3_url_style=settings.s3.url_style, s3_use_ssl=settings.s3.use_ssl,
        s3_access_key_id=_secret(environ, "ACCIDENTS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
        s3_secret_access_key=_secret(environ, "ACCIDENTS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        retry_count=settings.retry_count, departments=list(settings.departments),
        datagouv_api=settings.datagouv_api, seed=settings.seed,
    )
    # experiment and registered model names follow the département (Settings.experiment / registered_model)
    mlflow = MLflowResource(tracking_uri=_secret(environ, "MLFLOW_TRACKING_URI") or "")
    source = BaacSourceResource(source=settings.default_source)
    return {"lake": lake, "mlflow": mlflow, "baac_source": source}
