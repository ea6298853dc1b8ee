"""Weekly lake upkeep: `accidents lake verify` then `accidents lake maintain` as a Dagster job (Sunday
03:00 local time, when no prediction or training runs). A damaged or missing data file fails the run
before anything is rewritten, and the failed-run sensor posts the failure (naming the file) to the
failure webhook."""

import dagster as dg

from dagster_accidents.assets.common import OWNERS
from dagster_accidents.config import config_class, params_from
from dagster_accidents.partitions import TIMEZONE
from dagster_accidents.resources import DuckLakeResource, MLflowResource
from pipeline.core.lake import lake_connection
from pipeline.usecases.lake_integrity import verify_lake
from pipeline.usecases.maintenance import MaintenanceParams, maintain_lake

MaintenanceConfig = config_class(MaintenanceParams, "MaintenanceConfig")


@dg.op(description="Check every data file of the lake against its recorded size and checksum; fail the run "
                   "(and so alert) on a damaged or missing one.", out=dg.Out(dg.Nothing))
def verify_lake_op(context: dg.OpExecutionContext, lake: DuckLakeResource) -> None:
    with lake_connection(lake.settings(), read_only=True, check_files=False) as con:
        report = verify_lake(con)
    context.log_event(dg.AssetObservation(asset_key="lake_storage", metadata={
        "files_verified": report.checked, "damaged_files": len(report.damaged),
        "files_without_checksum": len(report.unrecorded)}))
    if not report.ok:
        raise dg.Failure(description="\n".join(report.lines()))
    for line in report.lines():
        context.log.info(line)


@dg.op(description="Merge small files, expire snapshots older than the retention, delete superseded and "
                   "orphaned files, mark dead MLflow runs FAILED.", ins={"verified": dg.In(dg.Nothing)})
def maintain_lake_op(context: dg.OpExecutionContext, config: MaintenanceConfig, lake: DuckLakeResource,
                     mlflow: MLflowResource) -> None:
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


# What the job observes: the lake's Parquet files (a declared external asset, so the catalog knows it).
lake_storage = dg.AssetSpec("lake_storage", group_name="lake_storage", kinds={"duckdb", "parquet"}, owners=OWNERS,
                            description="The lake's data files: count and bytes before and after each upkeep.")


@dg.job(description="Weekly DuckLake upkeep (what `accidents lake verify` and `accidents lake maintain` do).")
def lake_maintenance_job() -> None:
    maintain_lake_op(verified=verify_lake_op())


lake_maintenance_schedule = dg.ScheduleDefinition(
    name="weekly_lake_maintenance_schedule", job=lake_maintenance_job, cron_schedule="0 3 * * 0",
    execution_timezone=TIMEZONE, description=f"Lake upkeep every Sunday at 03:00 {TIMEZONE}.",
)
