"""The `accidents` code location: `dagster dev -m dagster_accidents.definitions` or `dg dev`.

Environment (read once, by `Settings.from_env`): ACCIDENTS_CATALOG=postgres selects production
(PostgreSQL catalog + S3, multiprocess executor); otherwise the embedded lake under
ACCIDENTS_DATA_DIR (default ./data), written by one process at a time (in-process executor).
"""

import os

import dagster as dg

from dagster_accidents.alerts import alerts_from_env
from dagster_accidents.assets.bronze import bronze_ingest, roads
from dagster_accidents.assets.gold import datasets, evaluation, trained_models
from dagster_accidents.assets.predictions import predictions
from dagster_accidents.assets.silver import silver_features
from dagster_accidents.checks import ALL_CHECKS
from dagster_accidents.executors import executor_for
from dagster_accidents.jobs import all_assets_job, daily_predictions_job, ingest_job, retraining_job
from dagster_accidents.maintenance import lake_maintenance_job, lake_maintenance_schedule, lake_storage
from dagster_accidents.resources import resources_from_settings
from dagster_accidents.schedules import daily_predictions_schedules
from dagster_accidents.sensors import (
    baac_release_sensor,
    post_critical_zones,
    post_failed_runs,
    rebuild_after_release_ingest,
)
from pipeline.core.settings import Settings

settings = Settings.from_env()
executor = executor_for(settings)

defs = dg.Definitions(
    assets=[bronze_ingest, roads, silver_features, datasets, trained_models, evaluation, predictions, lake_storage],
    asset_checks=ALL_CHECKS,
    jobs=[ingest_job, all_assets_job, retraining_job, daily_predictions_job, lake_maintenance_job],
    schedules=[*daily_predictions_schedules, lake_maintenance_schedule],
    sensors=[baac_release_sensor, rebuild_after_release_ingest, post_critical_zones, post_failed_runs],
    resources={**resources_from_settings(settings, os.environ), "alerts": alerts_from_env(os.environ)},
    executor=executor,
)
