"""Jobs. A Dagster job runs one partitions definition, so the year-partitioned ingest, the
unpartitioned model build and the daily predictions are three jobs (the UI's "Materialize all"
launches them together as an asset backfill)."""

from __future__ import annotations

import dagster as dg

MODEL_BUILD = dg.AssetSelection.assets(
    ["bronze", "roads"], ["silver", "road_points"], ["silver", "accident_points"], ["silver", "features"],
    ["silver", "features_reference"], ["silver", "features_meta"], ["gold", "datasets"], ["gold", "trained_models"],
    ["gold", "evaluation"],
)

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("bronze") - dg.AssetSelection.assets(["bronze", "roads"]),
    description="BAAC files of the selected year partition(s) -> bronze (raw, accidents, rejected rows).",
)

all_assets_job = dg.define_asset_job(
    "all_assets_job",
    selection=MODEL_BUILD,
    description="Every unpartitioned asset, from the bronze already loaded: roads, silver, datasets, "
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
    description="Hourly risk of every road point for one local day, with the champion model.",
)
