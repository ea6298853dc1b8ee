"""Gold: tomorrow's (or any day's) hourly risk for every road point, one partition per Nouméa day."""

import datetime as dt

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.metadata import markdown_table, summary_metadata, table_metadata
from dagster_accidents.partitions import prediction_days
from dagster_accidents.resources import DuckLakeResource, MLflowResource


class PredictionConfig(dg.Config):
    atm: int = 1  # BAAC weather scenario: 1 normal, 2 light rain, 3 heavy rain, 5 fog


@dg.asset(
    key=["gold", "predictions"],
    deps=[["gold", "trained_models"], ["silver", "road_points"]],
    partitions_def=prediction_days,
    group_name="gold",
    kinds=LAKE_KINDS | {"mlflow"},
    owners=OWNERS,
    description="pipeline.gold.predictions.predict_days with the MLflow champion: 24 hourly "
                "probabilities per road point for the partition's day (Pacific/Noumea).",
)
def predictions(context: dg.AssetExecutionContext, config: PredictionConfig, lake: DuckLakeResource,
                mlflow: MLflowResource) -> dg.MaterializeResult:
    from pipeline.gold.registry import load_champion
    from pipeline.gold.predictions import predict_days

    day = dt.date.fromisoformat(context.partition_key)
    model, version = load_champion(mlflow.uri_for(lake.settings()), mlflow.registered_model)
    with lake.connect() as con:
        summary = predict_days(con, model=model, model_name=mlflow.registered_model, model_version=version,
                               dates=[day], atm=config.atm)
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
