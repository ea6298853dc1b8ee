"""The code location loads, locally and with production settings, without connecting anywhere."""

from __future__ import annotations

import importlib
import time

import dagster as dg
import pytest

import dagster_accidents.definitions as definitions_module

EXPECTED_KEYS = {
    "bronze/raw_caracteristiques", "bronze/raw_lieux", "bronze/raw_vehicules", "bronze/raw_usagers",
    "bronze/accidents", "bronze/rejected_rows", "bronze/ingest_log", "bronze/roads",
    "silver/road_points", "silver/accident_points", "silver/features", "silver/features_reference",
    "silver/features_meta",
    "gold/datasets", "gold/trained_models", "gold/evaluation", "gold/predictions",
}
PRODUCTION_ENV = {
    "ACCIDENTS_CATALOG": "postgres",
    # A closed port: loading must not try it.
    "ACCIDENTS_PG_DSN": "host=127.0.0.1 port=9 dbname=accidents_lake user=accidents connect_timeout=1",
    "ACCIDENTS_DATA_PATH": "s3://accidents-lake/lake/",
    "ACCIDENTS_S3_ENDPOINT": "127.0.0.1:9",
    "ACCIDENTS_S3_USE_SSL": "false",
    "ACCIDENTS_S3_ACCESS_KEY_ID": "test-key-id-value",
    "ACCIDENTS_S3_SECRET_ACCESS_KEY": "test-secret-value-never-shown",
    "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
    "ACCIDENTS_DATA_DIR": "/nonexistent/accidents-data",
}
LOCAL_VARS = [*PRODUCTION_ENV, "ACCIDENTS_SOURCE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]


@pytest.fixture
def reload_definitions(monkeypatch):
    """Re-import definitions.py under a patched environment; restore the local one afterwards."""

    def load(env: dict[str, str]):
        for name in LOCAL_VARS:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(definitions_module).defs

    yield load
    monkeypatch.undo()
    importlib.reload(definitions_module)


def test_local_definitions_load_with_every_asset_job_and_automation(reload_definitions):
    defs = reload_definitions({})
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == EXPECTED_KEYS
    for job in ("ingest_job", "all_assets_job", "retraining_job", "daily_predictions_job"):
        assert defs.resolve_job_def(job).executor_def.name == "in_process"
    assert defs.resolve_schedule_def("daily_predictions_schedule").execution_timezone == "Pacific/Noumea"
    assert defs.resolve_sensor_def("baac_release_sensor")
    checks = {k.name for k in graph.asset_check_keys}
    assert {"unique_accident_ids", "exclusion_negatives_outside_buffer", "model_not_below_baselines",
            "rows_cover_every_point_hour"} <= checks
    lake = defs.resources["lake"]
    assert lake.catalog == "sqlite" and lake.data_dir == "data"
    assert defs.resources["baac_source"].source == "demo"


def test_groups_kinds_and_owners_on_every_asset(reload_definitions):
    graph = reload_definitions({}).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name == key.path[0], key
        assert node.owners == ["team:accidents-data"], key
        assert node.kinds, key


def test_production_definitions_load_without_connecting(reload_definitions):
    started = time.perf_counter()
    defs = reload_definitions(PRODUCTION_ENV)
    dg.Definitions.validate_loadable(defs)
    assert time.perf_counter() - started < 30  # nothing waits on the closed ports
    assert defs.resolve_job_def("all_assets_job").executor_def.name == "multiprocess"
    lake = defs.resources["lake"]
    assert lake.catalog == "postgres" and lake.postgres_dsn.startswith("host=127.0.0.1 port=9")
    assert lake.data_path == "s3://accidents-lake/lake/" and lake.s3_use_ssl is False
    # Secrets stay environment-variable references: the value is never in the definitions.
    assert isinstance(lake.s3_secret_access_key, dg.EnvVar)
    assert lake.s3_secret_access_key == "ACCIDENTS_S3_SECRET_ACCESS_KEY"
    assert "test-secret-value-never-shown" not in repr(defs.resources)
    assert isinstance(defs.resources["mlflow"].tracking_uri, dg.EnvVar)
    assert defs.resources["baac_source"].source == "datagouv"


def test_resource_settings_resolve_the_secret_at_run_time(monkeypatch):
    from dagster_accidents.resources import DuckLakeResource

    monkeypatch.setenv("MY_S3_SECRET", "resolved-secret")
    resource = DuckLakeResource(catalog="postgres", postgres_dsn="host=127.0.0.1 port=9",
                                data_path="s3://bucket/lake/", s3_access_key_id="id",
                                s3_secret_access_key=dg.EnvVar("MY_S3_SECRET"))
    initialized = resource.process_config_and_initialize()
    settings = initialized.settings()
    assert settings.s3.secret_access_key == "resolved-secret"
    assert settings.uses_s3 and settings.catalog == "postgres"
    assert "resolved-secret" not in repr(settings)


def test_demo_source_refuses_years_outside_its_span_without_generating(tmp_path):
    from dagster_accidents.resources import BaacSourceResource
    from pipeline.core.errors import AccidentsError
    from pipeline.core.settings import Settings

    with pytest.raises(AccidentsError, match="year 2025: the demo covers 2019-2024"):
        BaacSourceResource(source="demo").open(Settings(data_dir=tmp_path)).files_for_years([2024, 2025])
    assert not (tmp_path / "demo").exists()


def test_partitions_follow_the_source_and_the_departement(tmp_path):
    """The demo's year partitions are exactly the years it covers (no failing 2025 run in "Materialize
    all"), real data's run to last year; predicted days start after them, in the département's zone."""
    import datetime as dt

    from dagster_accidents.partitions import baac_year_keys, build_partitions
    from pipeline.core.settings import Settings

    demo = Settings(data_dir=tmp_path)
    assert baac_year_keys(demo) == [str(y) for y in range(2019, 2025)]
    real = Settings(data_dir=tmp_path, source="datagouv")
    assert baac_year_keys(real, dt.date(2026, 11, 29))[-1] == "2025"
    years, days = build_partitions(Settings(data_dir=tmp_path, departments=("974",)))
    assert days.timezone == "Indian/Reunion" and days.start.strftime("%Y-%m-%d") == "2025-01-01"
    assert years.get_partition_keys()[0] == "2019"


def test_release_sensor_does_not_poll_in_demo_mode(tmp_path, monkeypatch):
    from dagster_accidents.resources import BaacSourceResource, DuckLakeResource
    from dagster_accidents.sensors import baac_release_sensor

    def no_network(*args, **kwargs):
        raise AssertionError("the demo source must not reach data.gouv.fr")

    monkeypatch.setattr("pipeline.sources.datagouv.list_published_years", no_network)
    context = dg.build_sensor_context(resources={"lake": DuckLakeResource(data_dir=str(tmp_path)),
                                                 "baac_source": BaacSourceResource(source="demo")})
    result = baac_release_sensor(context)
    assert isinstance(result, dg.SkipReason) and "publishes no releases" in result.skip_message
