"""One typed settings object, read from the environment in exactly one place (`Settings.from_env`).

Stage functions never read the environment: they receive a `Settings` (or explicit parameters).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.core.departments import department
from pipeline.core.errors import AccidentsError

CATALOG_KINDS = ("sqlite", "duckdb", "postgres")
# Dagster's executor: auto = multiprocess on the PostgreSQL catalog, in-process on an embedded one;
# k8s = one Kubernetes pod per step (dagster-k8s), for the Helm deployment.
EXECUTORS = ("auto", "in_process", "multiprocess", "k8s")


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise AccidentsError(f"{name}={raw!r}: expected true or false")


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise AccidentsError(f"{name}={raw!r}: expected an integer") from None


@dataclass(frozen=True)
class S3Settings:
    """Object storage for the production lake. Keys come from the environment only."""

    endpoint: str | None = None  # host[:port], e.g. "minio.internal:9000"; None = AWS
    region: str = "us-east-1"
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    url_style: str = "path"  # "path" or "vhost"
    use_ssl: bool = True
    # Per request and retry: DuckDB's defaults (30 s x 4 attempts) block for 2 minutes on a silent server.
    timeout_seconds: int = 5
    retries: int = 1


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    catalog: str = "sqlite"  # sqlite | duckdb (embedded) | postgres (production)
    # libpq DSN, ideally without password (PGPASSWORD is read by libpq); never printed as is
    postgres_dsn: str | None = field(default=None, repr=False)
    data_path: str | None = None  # where Parquet goes; default <data_dir>/lake/files/
    # Open a lake whose catalog recorded another data path (a restored or re-pointed bucket prefix).
    # The default local data path always follows the data folder, so a moved folder opens.
    override_data_path: bool = False
    s3: S3Settings = S3Settings()
    retry_count: int = 100  # DuckLake commit retries; concurrent writers are normal in production
    departments: tuple[str, ...] = ("988",)
    mlflow_tracking_uri: str | None = None
    datagouv_api: str = "https://www.data.gouv.fr/api/1"
    seed: int = 42
    source: str | None = None  # ACCIDENTS_SOURCE: what orchestrated runs ingest (see default_source)
    weather_archive_api: str = "https://archive-api.open-meteo.com/v1"
    weather_forecast_api: str = "https://api.open-meteo.com/v1"
    executor: str = "auto"  # ACCIDENTS_DAGSTER_EXECUTOR (see EXECUTORS)

    def __post_init__(self) -> None:
        if self.catalog not in CATALOG_KINDS:
            raise AccidentsError(
                f"ACCIDENTS_CATALOG={self.catalog!r}: expected one of {', '.join(CATALOG_KINDS)}"
            )
        if self.catalog == "postgres" and not self.postgres_dsn:
            raise AccidentsError("ACCIDENTS_CATALOG=postgres needs ACCIDENTS_PG_DSN (libpq DSN)")
        if not self.departments:
            raise AccidentsError("ACCIDENTS_DEPS: give at least one département code")
        if self.executor not in EXECUTORS:
            raise AccidentsError(f"ACCIDENTS_DAGSTER_EXECUTOR={self.executor!r}: expected one of {', '.join(EXECUTORS)}")
        if self.executor in ("multiprocess", "k8s") and self.catalog != "postgres":
            raise AccidentsError(f"ACCIDENTS_DAGSTER_EXECUTOR={self.executor}: parallel steps need "
                                 "ACCIDENTS_CATALOG=postgres (an embedded catalog admits one writer process)")
        if self.s3.url_style not in ("path", "vhost"):
            raise AccidentsError(f"ACCIDENTS_S3_URL_STYLE={self.s3.url_style!r}: expected path or vhost")

    # Everything the project writes locally lives under data_dir.
    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def maps_dir(self) -> Path:
        return self.data_dir / "maps"

    @property
    def mlflow_dir(self) -> Path:
        return self.data_dir / "mlflow"

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"

    @property
    def resolved_data_path(self) -> str:
        if self.data_path:
            return self.data_path if self.data_path.endswith("/") else self.data_path + "/"
        return str((self.lake_dir / "files").resolve()) + "/"

    @property
    def resolved_mlflow_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.mlflow_dir / 'mlflow.db').resolve()}"

    @property
    def default_source(self) -> str:
        """The source of orchestrated runs: ACCIDENTS_SOURCE, else real data (data.gouv.fr) with the
        production catalog and the offline demo everywhere else."""
        return self.source or ("datagouv" if self.catalog == "postgres" else "demo")

    @property
    def uses_s3(self) -> bool:
        return self.resolved_data_path.startswith(("s3://", "s3a://", "r2://", "gcs://"))

    @property
    def department(self):
        """The profile of the département models, predictions and maps are built for (the first of
        `departments`; ingest takes them all)."""
        return department(self.departments[0])

    @property
    def registered_model(self) -> str:
        return f"accidents-risk-{self.departments[0]}"

    @property
    def experiment(self) -> str:
        return f"accidents-{self.departments[0]}"

    def for_departments(self, text: str | None) -> Settings:
        """These settings for the départements of a `--dep` value ('988' or '988,973'); None keeps them."""
        if text is None:
            return self

        codes = tuple(dict.fromkeys(department(c).code for c in str(text).split(",") if c.strip()))
        if not codes:
            raise AccidentsError("dep: give at least one département code")
        return replace(self, departments=codes)

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        s3 = S3Settings(
            endpoint=env.get("ACCIDENTS_S3_ENDPOINT") or None,
            region=env.get("ACCIDENTS_S3_REGION", "us-east-1"),
            access_key_id=env.get("ACCIDENTS_S3_ACCESS_KEY_ID") or env.get("AWS_ACCESS_KEY_ID"),
            secret_access_key=env.get("ACCIDENTS_S3_SECRET_ACCESS_KEY")
            or env.get("AWS_SECRET_ACCESS_KEY"),
            url_style=env.get("ACCIDENTS_S3_URL_STYLE", "path"),
            use_ssl=_flag("ACCIDENTS_S3_USE_SSL", env.get("ACCIDENTS_S3_USE_SSL", "true")),
            timeout_seconds=_int("ACCIDENTS_S3_TIMEOUT", env.get("ACCIDENTS_S3_TIMEOUT", "5")),
            retries=_int("ACCIDENTS_S3_RETRIES", env.get("ACCIDENTS_S3_RETRIES", "1")),
        )
        deps = tuple(d.strip() for d in env.get("ACCIDENTS_DEPS", "988").split(",") if d.strip())
        return cls(
            data_dir=Path(env.get("ACCIDENTS_DATA_DIR", "data")),
            catalog=env.get("ACCIDENTS_CATALOG", "sqlite"),
            postgres_dsn=env.get("ACCIDENTS_PG_DSN") or None,
            data_path=env.get("ACCIDENTS_DATA_PATH") or None,
            override_data_path=_flag("ACCIDENTS_OVERRIDE_DATA_PATH",
                                     env.get("ACCIDENTS_OVERRIDE_DATA_PATH", "false")),
            s3=s3,
            retry_count=_int("ACCIDENTS_DUCKLAKE_RETRIES", env.get("ACCIDENTS_DUCKLAKE_RETRIES", "100")),
            departments=deps,
            mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI") or None,
            datagouv_api=env.get("ACCIDENTS_DATAGOUV_API", "https://www.data.gouv.fr/api/1"),
            seed=_int("ACCIDENTS_SEED", env.get("ACCIDENTS_SEED", "42")),
            source=env.get("ACCIDENTS_SOURCE") or None,
            weather_archive_api=env.get("ACCIDENTS_WEATHER_ARCHIVE_API", "https://archive-api.open-meteo.com/v1"),
            weather_forecast_api=env.get("ACCIDENTS_WEATHER_FORECAST_API", "https://api.open-meteo.com/v1"),
            executor=env.get("ACCIDENTS_DAGSTER_EXECUTOR", "auto"),
        )
