"""Build the silver layer: roads (when needed), road grid, negative samples and risk features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings
from pipeline.silver.params import FeatureParams

if TYPE_CHECKING:
    from pipeline.bronze.roads import RoadsSummary
    from pipeline.silver.features import FeaturesSummary
    from pipeline.sources.select import AccidentSource


@dataclass(frozen=True)
class FeaturesOutcome:
    roads: RoadsSummary | None  # None when bronze.roads was kept as it was
    features: FeaturesSummary


def roads_file_for(params: FeatureParams, source: AccidentSource | None):
    """The rule for roads: an explicit file, else the source's own (the demo ships its network, a
    folder may hold roads.osm), else None = download OpenStreetMap (cached)."""
    if params.roads_file:
        return params.roads_file
    return source.roads_file() if source is not None else None


def build_roads_table(settings: Settings, params: FeatureParams, *, source: AccidentSource | None = None) -> RoadsSummary:
    """bronze.roads from the roads file that applies (else an OpenStreetMap download)."""
    from pipeline.bronze.roads import build_roads
    from pipeline.core.lake import lake_connection

    with lake_connection(settings) as con:
        return build_roads(con, roads_file=roads_file_for(params, source), cache_dir=settings.cache_dir / "osm",
                           department=settings.department.code, timeout=params.osm_timeout)


def build_silver_tables(settings: Settings, params: FeatureParams, *, progress=None) -> FeaturesSummary:
    """The silver tables of the settings' département from bronze.accidents and bronze.roads."""
    from pipeline.core.lake import lake_connection
    from pipeline.silver.features import build_features

    if params.seed is None:
        params = params.replace(seed=settings.seed)
    with lake_connection(settings) as con:
        return build_features(con, params, department=settings.department.code, progress=progress)


def build_silver(settings: Settings, params: FeatureParams, *, source: AccidentSource | None = None,
                 progress=None) -> FeaturesOutcome:
    """bronze.roads (rebuilt when a roads file applies or the table is missing), then the silver tables.
    Without `source`, the lake's own (bronze.ingest_log) gives the roads file."""
    from pipeline.core.lake import lake_connection, table_exists
    from pipeline.usecases.lake_source import ingested_source

    with lake_connection(settings) as con:
        if not table_exists(con, "bronze.accidents"):
            raise AccidentsError("bronze.accidents does not exist: run `accidents ingest` first")
        source = source or ingested_source(con, settings)
        rebuild_roads = bool(roads_file_for(params, source)) or not table_exists(con, "bronze.roads")
    roads = build_roads_table(settings, params, source=source) if rebuild_roads else None
    return FeaturesOutcome(roads, build_silver_tables(settings, params, progress=progress))
