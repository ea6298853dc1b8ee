"""Weekly lake upkeep: `accidents lake maintain` as a Dagster job (Sunday 03:00 local time, when no
prediction or training runs)."""

import dagster as dg

from dagster_accidents.config import config_class, params_from
from dagster_accidents.partitions import TIMEZONE
from dagster_accidents.resources import DuckLakeResource, MLflowResource
from pipeline.usecases.maintenance import MaintenanceParams


MaintenanceConfig = config_class(MaintenanceParams, "MaintenanceConfig")


@dg.op(description="Merge small files, expire snapshots older than the retention, delete superseded and "
                   "orphaned files, mark dead MLflow runs FAILED.")
def maintain_lake_op(context: dg.OpExecutionContext, config: MaintenanceConfig, lake: DuckLakeResource,
                     mlflow: MLflowResource) -> None:
    from pipeline.usecases.maintenance import maintain_lake

    settings = lake.settings()
    settings = settings.with_(mlflow_tracking_uri=mlflow.uri_for(settings))
    params = params_from(config, MaintenanceParams)
    with lake.connect() as con:
        report = maintain_lake(con, settings, params)
    for line in report.lines():
        context.log.info(line)
    context.log_event(dg.AssetObservation(asset_key="lake_storage", metadata={
        "files_before": report.before.files, "files_after": report.after.files,
        "bytes_before": report.before.bytes, "bytes_after": report.after.bytes,
        "expired_snapshots": report.expired_snapshots, "orphaned_files": report.orphaned_files,
        "failed_mlflow_runs": report.failed_runs,
    }))


@dg.job(description="Weekly DuckLake upkeep (what `accidents lake maintain` does).")
def lake_maintenance_job() -> None:
    maintain_lake_op()


lake_maintenance_schedule = dg.ScheduleDefinition(
    name="weekly_lake_maintenance_schedule", job=lake_maintenance_job, cron_schedule="0 3 * * 0",
    execution_timezone=TIMEZONE, description=f"Lake upkeep every Sunday at 03:00 {TIMEZONE}.",
)
