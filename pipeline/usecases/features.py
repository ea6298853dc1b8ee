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


def build_silver(settings: Settings, params: FeatureParams, *, source: AccidentSource | None = None,
                 progress=None) -> FeaturesOutcome:
    """bronze.roads (rebuilt when a roads file applies or the table is missing) then the silver tables
    of the settings' département."""
    from pipeline.bronze.roads import build_roads
    from pipeline.core.lake import lake_connection, table_exists
    from pipeline.silver.features import build_features

    department = settings.department.code
    if params.seed is None:
        params = params.replace(seed=settings.seed)
    roads_file = roads_file_for(params, source)
    roads = None
    with lake_connection(settings) as con:
        if not table_exists(con, "bronze.accidents"):
            raise AccidentsError("bronze.accidents does not exist: run `accidents ingest` first")
        if roads_file or not table_exists(con, "bronze.roads"):
            roads = build_roads(con, roads_file=roads_file, cache_dir=settings.cache_dir / "osm",
                                department=department, timeout=params.osm_timeout)
        features = build_features(con, params, department=department, progress=progress)
    return FeaturesOutcome(roads, features)
