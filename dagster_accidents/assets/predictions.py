"""Gold: tomorrow's (or any day's) hourly risk for every road point, one partition per local day."""

import datetime as dt

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.config import config_class, params_from
from dagster_accidents.metadata import markdown_table, summary_metadata, table_metadata
from dagster_accidents.partitions import prediction_days
from dagster_accidents.resources import DuckLakeResource, MLflowResource
from pipeline.gold.params import PredictParams


PredictionConfig = config_class(PredictParams, "PredictionConfig")


@dg.asset(
    key=["gold", "predictions"],
    deps=[["gold", "trained_models"], ["silver", "road_points"]],
    partitions_def=prediction_days,
    group_name="gold",
    kinds=LAKE_KINDS | {"mlflow"},
    owners=OWNERS,
    description="pipeline.usecases.predictions.predict with the MLflow champion: 24 hourly "
                "probabilities per road point for the partition's day (the département's time zone).",
)
def predictions(context: dg.AssetExecutionContext, config: PredictionConfig, lake: DuckLakeResource,
                mlflow: MLflowResource) -> dg.MaterializeResult:
    from pipeline.usecases.predictions import predict

    day = dt.date.fromisoformat(context.partition_key)
    settings = lake.settings()
    summary = predict(settings, params_from(config, PredictParams), [day], tracking_uri=mlflow.uri_for(settings))
    with lake.connect(read_only=True) as con:
        rows = table_metadata(con, "gold.predictions", where="WHERE date = ? AND atm = ?",
                              params=[day, summary.atm])
    day_summary = summary.days[0]
    top = [(p.point_id, round(p.lat, 5), round(p.lon, 5), p.com, p.road_type, p.expected_accidents, p.peak_hour)
           for p in day_summary.top_points]
    return dg.MaterializeResult(metadata={
        **summary_metadata(summary, skip=("days",)),
        "expected_accidents": day_summary.expected_accidents,
        "most_dangerous_hour": day_summary.most_dangerous_hour,
        "top_points": dg.MetadataValue.md(markdown_table(
            ["point", "lat", "lon", "commune", "road", "expected (day)", "peak hour"], top)),
        **rows,
    })
