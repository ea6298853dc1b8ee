"""Silver: road points on a grid snapped to roads, accidents snapped to points, sampled features."""

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.metadata import summary_metadata, table_metadata
from dagster_accidents.resources import DuckLakeResource

SILVER_TABLES = {
    "road_points": "Grid cells snapped to the road network (stable point_id).",
    "accident_points": "Every accident -> its nearest road point.",
    "features": "Positives + sampled negatives per sampler, every model feature, point-in-time history "
                "(the lookback years before each row's year start; first data year dropped).",
    "features_reference": "The same sampled rows with the predecessor's leave-one-out history over "
                          "every accident (reference protocol, gold.train/test).",
    "features_meta": "Parameters and base-rate inputs of the features build (silver.weather_hourly, the "
                     "hourly weather every sampled row takes, is built first from FeaturesConfig.weather).",
}


class FeaturesConfig(dg.Config):
    """Defaults of `accidents features`."""

    samplers: list[str] = ["exclusion", "uniform"]
    grid_step: float = 0.02
    buffer_meters: float = 200.0
    accident_exclusion_buffer_km: float = 0.3
    temporal_risk_ratio: float = 0.85
    n_negative_samples_ratio: int = 20
    history_lookback_years: int = 3
    history_lag_years: int = 0  # publication lag of the history windows (the CLI's auto derives it)
    weather: str = "auto"  # silver.weather_hourly source: auto, demo, open-meteo, a folder, none


@dg.multi_asset(
    name="silver_features",
    specs=[
        dg.AssetSpec(["silver", table], description=text, group_name="silver", kinds=LAKE_KINDS,
                     owners=OWNERS, deps=[["bronze", "accidents"], ["bronze", "roads"]])
        for table, text in SILVER_TABLES.items()
    ],
    can_subset=False,
    description="pipeline.stage_features.build_features (samplers exclusion + uniform).",
)
def silver_features(context: dg.AssetExecutionContext, config: FeaturesConfig,
                    lake: DuckLakeResource):
    from pipeline.stage_features import build_features
    from pipeline.stage_weather import apply_weather_choice

    with lake.connect() as con:
        apply_weather_choice(con, config.weather, lake.settings())
        summary = build_features(
            con, samplers=tuple(config.samplers), grid_step=config.grid_step,
            buffer_meters=config.buffer_meters,
            accident_exclusion_buffer_km=config.accident_exclusion_buffer_km,
            temporal_risk_ratio=config.temporal_risk_ratio,
            n_negative_samples_ratio=config.n_negative_samples_ratio,
            history_lookback_years=config.history_lookback_years,
            history_lag_years=config.history_lag_years, department=lake.department, seed=lake.seed,
            progress=lambda stage, seconds: context.log.info(f"{stage}: {seconds:.1f} s"),
        )
        for table in SILVER_TABLES:
            metadata = table_metadata(con, f"silver.{table}")
            if table == "features":
                metadata |= summary_metadata(summary)
            yield dg.MaterializeResult(asset_key=["silver", table], metadata=metadata)
