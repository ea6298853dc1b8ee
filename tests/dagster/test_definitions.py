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
    "silver/features_meta", "silver/weather_hourly", "lake_storage",
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


# Partitions are computed when their module loads: a new ACCIDENTS_DEPS reloads everything built on them.
PARTITIONED_MODULES = ["dagster_accidents.partitions", "dagster_accidents.assets.bronze",
                       "dagster_accidents.assets.silver", "dagster_accidents.assets.gold",
                       "dagster_accidents.assets.predictions", "dagster_accidents.checks", "dagster_accidents.jobs",
                       "dagster_accidents.schedules", "dagster_accidents.sensors", "dagster_accidents.definitions"]


@pytest.fixture
def reload_code_location(monkeypatch):
    def load(env: dict[str, str]):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for module in PARTITIONED_MODULES:
            importlib.reload(importlib.import_module(module))
        return importlib.import_module("dagster_accidents.definitions").defs

    yield load
    monkeypatch.undo()
    for module in PARTITIONED_MODULES:
        importlib.reload(importlib.import_module(module))


def test_two_departements_partition_every_asset_with_its_own_schedules(reload_code_location):
    """ACCIDENTS_DEPS=988,974: every asset from bronze to predictions is partitioned by département
    (bronze x year, predictions x day); each time zone has its schedule."""
    defs = reload_code_location({"ACCIDENTS_DEPS": "988,974"})
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        if key.to_user_string() == "lake_storage":
            continue
        partitions = graph.get(key).partitions_def
        dims = ({d.name for d in partitions.partitions_defs} if isinstance(partitions, dg.MultiPartitionsDefinition)
                else {"dep"})
        assert "dep" in dims, key
        deps = partitions.get_partitions_def_for_dimension("dep") if len(dims) > 1 else partitions
        assert deps.get_partition_keys() == ["988", "974"], key
    assert {s.name for s in defs.schedules} >= {"daily_predictions_schedule", "daily_predictions_schedule_indian_reunion"}
    # silver reads every year partition of its own département's bronze, and no other département's
    mapping = graph.get_partition_mapping(dg.AssetKey(["silver", "features"]), dg.AssetKey(["bronze", "accidents"]))
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        graph.get(dg.AssetKey(["silver", "features"])).partitions_def.subset_with_partition_keys(["974"]),
        graph.get(dg.AssetKey(["silver", "features"])).partitions_def,
        graph.get(dg.AssetKey(["bronze", "accidents"])).partitions_def).partitions_subset
    assert sorted(upstream.get_partition_keys()) == [f"974|{y}" for y in range(2019, 2025)]


def test_local_definitions_load_with_every_asset_job_and_automation(reload_definitions):
    defs = reload_definitions({})
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == EXPECTED_KEYS
    for job in ("ingest_job", "all_assets_job", "retraining_job", "daily_predictions_job", "lake_maintenance_job"):
        assert defs.resolve_job_def(job).executor_def.name == "in_process"
    assert defs.resolve_schedule_def("daily_predictions_schedule").execution_timezone == "Pacific/Noumea"
    # the weekly maintenance is registered, not only defined (it was missing from the code location)
    assert defs.resolve_schedule_def("weekly_lake_maintenance_schedule").job_name == "lake_maintenance_job"
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
    deps, dep_years, days, dep_days = build_partitions(Settings(data_dir=tmp_path, departments=("974",)))
    assert days.timezone == "Indian/Reunion" and days.start.strftime("%Y-%m-%d") == "2025-01-01"
    assert deps.get_partition_keys() == ["974"]
    assert dep_years.get_partition_keys()[0] == "974|2019"
    # several départements: one partition each; the day partitions follow the zone furthest ahead, so
    # they hold every département's tomorrow
    deps, dep_years, days, dep_days = build_partitions(Settings(data_dir=tmp_path, departments=("974", "988")))
    assert deps.get_partition_keys() == ["974", "988"] and len(dep_years.get_partition_keys()) == 12
    assert days.timezone == "Pacific/Noumea"
    assert {k.keys_by_dimension["dep"] for k in dep_days.get_partition_keys(current_time=dt.datetime(2025, 1, 3))} \
        == {"974", "988"}


def test_release_sensor_does_not_poll_in_demo_mode(tmp_path, monkeypatch):
    from dagster_accidents.resources import BaacSourceResource, DuckLakeResource
    from dagster_accidents.sensors import baac_release_sensor

    def no_network(*args, **kwargs):
        raise AssertionError("the demo source must not reach data.gouv.fr")

    monkeypatch.setattr("dagster_accidents.sensors.list_published_years", no_network)  # the name the sensor calls
    context = dg.build_sensor_context(resources={"lake": DuckLakeResource(data_dir=str(tmp_path)),
                                                 "baac_source": BaacSourceResource(source="demo")})
    result = baac_release_sensor(context)
    assert isinstance(result, dg.SkipReason) and "publishes no releases" in result.skip_message
