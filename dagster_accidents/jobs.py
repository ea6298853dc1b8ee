"""Jobs. A Dagster job runs one partitions definition, so the (département, year) ingest, the
per-département model build and the (département, day) predictions are three jobs (the UI's
"Materialize all" launches them together as an asset backfill: one run per partition)."""

from __future__ import annotations

import dagster as dg

MODEL_BUILD = dg.AssetSelection.assets(
    ["bronze", "roads"], ["silver", "road_points"], ["silver", "accident_points"], ["silver", "features"],
    ["silver", "features_reference"], ["silver", "features_meta"], ["silver", "weather_hourly"], ["gold", "datasets"],
    ["gold", "trained_models"], ["gold", "evaluation"],
)

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("bronze") - dg.AssetSelection.assets(["bronze", "roads"]),
    description="BAAC files of the selected (département, year) partition(s) -> bronze (raw, accidents, "
                "rejected rows).",
)

all_assets_job = dg.define_asset_job(
    "all_assets_job",
    selection=MODEL_BUILD,
    description="One département's model build, from the bronze already loaded: roads, silver, datasets, "
                "training, evaluation. (Ingest years: ingest_job; predicted days: daily_predictions_job.)",
)

retraining_job = dg.define_asset_job(
    "retraining_job",
    selection=dg.AssetSelection.assets(["gold", "datasets"], ["gold", "trained_models"], ["gold", "evaluation"]),
    description="Rebuild the gold datasets, retrain (MLflow + new champion) and re-evaluate.",
)

daily_predictions_job = dg.define_asset_job(
    "daily_predictions_job",
    selection=dg.AssetSelection.assets(["gold", "predictions"]),
    description="Hourly risk of every road point of one département for one local day, with its champion model.",
)
