"""Gold: tomorrow's (or any day's) hourly risk for every road point, one partition per local day."""

import datetime as dt

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.config import config_class, params_from
from dagster_accidents.metadata import markdown_table, rounded, summary_metadata, synthetic_metadata, table_metadata
from dagster_accidents.partitions import BY_DEP, DAY, DEP, dep_prediction_days, dimension
from dagster_accidents.resources import DuckLakeResource, MLflowResource
from pipeline.gold.params import PredictParams
from pipeline.usecases.predictions import predict

PredictionConfig = config_class(PredictParams, "PredictionConfig")


@dg.asset(
    key=["gold", "predictions"],
    deps=[dg.AssetDep(["gold", "trained_models"], partition_mapping=BY_DEP),
          dg.AssetDep(["silver", "road_points"], partition_mapping=BY_DEP)],
    partitions_def=dep_prediction_days,
    group_name="gold",
    kinds=LAKE_KINDS | {"mlflow"},
    owners=OWNERS,
    description="pipeline.usecases.predictions.predict with the MLflow champion: 24 hourly expected "
                "accidents per road point of the partition's département for its day (in the département's "
                "time zone), and the day's, communes' and top points' totals with 90 % intervals and reasons.",
)
def predictions(context: dg.AssetExecutionContext, config: PredictionConfig, lake: DuckLakeResource,
                mlflow: MLflowResource) -> dg.MaterializeResult:
    key = context.partition_key
    dep, day = dimension(dep_prediction_days, key, DEP), dt.date.fromisoformat(dimension(dep_prediction_days, key, DAY))
    settings = lake.settings_for(dep)
    summary = predict(settings, params_from(config, PredictParams), [day], tracking_uri=mlflow.uri_for(settings)).summary
    with lake.connect(read_only=True, dep=dep) as con:
        rows = table_metadata(con, "gold.predictions", where="WHERE date = ? AND atm = ? AND dep = ?",
                              params=[day, summary.atm, dep])
        provenance = synthetic_metadata(con)
    day_summary = summary.days[0]
    top = [(p.point_id, round(p.lat, 5), round(p.lon, 5), p.com, p.road_type, rounded(p.expected_accidents),
            f"{rounded(p.interval.low)}-{rounded(p.interval.high)}", p.peak_hour,
            "; ".join(f"{r['detail']} x{r['ratio']}" for r in p.reasons))
           for p in day_summary.top_points]
    interval = day_summary.interval
    return dg.MaterializeResult(metadata={
        **summary_metadata(summary, skip=("days",)),
        "expected_accidents": rounded(interval.expected),
        "expected_accidents_90pct": f"{rounded(interval.low)}-{rounded(interval.high)}",
        "accidents_90pct": f"{interval.count_low}-{interval.count_high}",
        "most_dangerous_hour": day_summary.most_dangerous_hour,
        "top_points": dg.MetadataValue.md(markdown_table(
            ["point", "lat", "lon", "commune", "road", "expected (day)", "90 %", "peak hour", "why"], top)),
        **rows,
        **provenance,
    })
