"""Silver: road points on a grid snapped to roads, accidents snapped to points, sampled features."""

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.config import config_class, params_from
from dagster_accidents.metadata import summary_metadata, synthetic_metadata, table_metadata
from dagster_accidents.partitions import BY_DEP, departements
from dagster_accidents.resources import DuckLakeResource
from pipeline.core.lake import table_exists
from pipeline.silver.params import FeatureParams
from pipeline.usecases.features import build_silver_tables

FeaturesConfig = config_class(FeatureParams, "FeaturesConfig", skip=("roads_file", "osm_timeout"))

SILVER_TABLES = {
    "weather_hourly": "Hourly weather per station (or the demo's territory-wide series) with its BAAC atm code.",
    "road_points": "Grid cells snapped to the road network (stable point_id).",
    "accident_points": "Every accident -> its nearest road point.",
    "features": "Positives + sampled negatives per sampler, every model feature, point-in-time history "
                "(the lookback years before each row's year start; first data year dropped).",
    "features_reference": "The same sampled rows with the predecessor's leave-one-out history over "
                          "every accident (reference protocol, gold.train/test).",
    "features_meta": "Parameters and base-rate inputs of the features build.",
}


@dg.multi_asset(
    name="silver_features",
    specs=[
        dg.AssetSpec(["silver", table], description=text, group_name="silver", kinds=LAKE_KINDS,
                     owners=OWNERS, deps=[dg.AssetDep(["bronze", "accidents"], partition_mapping=BY_DEP),
                                          ["bronze", "roads"]])
        for table, text in SILVER_TABLES.items()
    ],
    partitions_def=departements,
    can_subset=False,
    description="pipeline.silver.features.build_features (samplers exclusion + uniform).",
)
def silver_features(context: dg.AssetExecutionContext, config: FeaturesConfig, lake: DuckLakeResource):
    # bronze.roads is its own asset: only the silver tables are built here
    dep = context.partition_key
    outcome = build_silver_tables(lake.settings_for(dep), params_from(config, FeatureParams),
                                  progress=lambda stage, seconds: context.log.info(f"{stage}: {seconds:.1f} s"))
    summary = outcome.features
    if outcome.lag_note:
        context.log.info(outcome.lag_note)
    with lake.connect(read_only=True, dep=dep) as con:
        provenance = synthetic_metadata(con)
        for table in SILVER_TABLES:
            if not table_exists(con, f"silver.{table}"):  # weather_hourly with weather=none
                yield dg.MaterializeResult(asset_key=["silver", table], metadata={"dagster/row_count": 0, **provenance})
                continue
            metadata = table_metadata(con, f"silver.{table}", where="WHERE dep = ?", params=[dep]) | provenance
            if table == "features":
                metadata |= summary_metadata(summary)
            yield dg.MaterializeResult(asset_key=["silver", table], metadata=metadata)
