"""Build the silver layer: roads (when needed), road grid, negative samples and risk features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.bronze.roads import build_roads
from pipeline.core.errors import AccidentsError
from pipeline.core.features import publication_lag_years
from pipeline.core.lake import DEP, lake_connection, table_exists
from pipeline.core.settings import Settings
from pipeline.gold.scenarios import tomorrow_in
from pipeline.silver.features import build_features
from pipeline.silver.params import FeatureParams
from pipeline.silver.tables import newest_data_year
from pipeline.silver.weather import apply_weather_choice
from pipeline.usecases.lake_source import ingested_source

if TYPE_CHECKING:
    from pipeline.bronze.roads import RoadsSummary
    from pipeline.silver.features import FeaturesSummary
    from pipeline.silver.weather import WeatherSummary
    from pipeline.sources.select import AccidentSource


@dataclass(frozen=True)
class SilverOutcome:
    features: FeaturesSummary
    weather: WeatherSummary | None  # None: no weather history (params.weather = none)
    lag_note: str = ""  # how an automatic publication lag was derived


@dataclass(frozen=True)
class FeaturesOutcome:
    roads: RoadsSummary | None  # None when bronze.roads was kept as it was
    silver: SilverOutcome

    @property
    def features(self) -> FeaturesSummary:
        return self.silver.features


def roads_file_for(params: FeatureParams, source: AccidentSource | None, department: str | None = None):
    """The rule for roads: an explicit file, else the source's own for the département (the demo ships
    its network, a folder may hold roads-<dep>.osm or roads.osm), else None = download OpenStreetMap
    (cached)."""
    if params.roads_file:
        return params.roads_file
    return source.roads_file(department) if source is not None else None


def build_roads_table(settings: Settings, params: FeatureParams, *, source: AccidentSource | None = None) -> RoadsSummary:
    """bronze.roads from the roads file that applies (else an OpenStreetMap download)."""
    with lake_connection(settings) as con:
        return build_roads(con, roads_file=roads_file_for(params, source, settings.department.code),
                           cache_dir=settings.cache_dir / "osm",
                           department=settings.department.code, timeout=params.osm_timeout)


def history_lag(con, settings: Settings, params: FeatureParams) -> tuple[int, str]:
    """The publication lag of the history windows: the given one, else what tomorrow's prediction faces
    (BAAC year N is published in the autumn of N+1), derived from the newest year in the lake."""
    if params.history_lag_years is not None:
        return params.history_lag_years, ""
    newest, day = newest_data_year(con), tomorrow_in(settings.department.timezone)
    lag = publication_lag_years(newest, day)
    return lag, (f"history lag: {lag} year(s): the lake's newest year is {newest}, so a prediction for {day} "
                 f"sees history ending {newest + 1}-01-01; training rows see windows ending {lag} year(s) "
                 "before their own year start")


def build_silver_tables(settings: Settings, params: FeatureParams, *, progress=None) -> SilverOutcome:
    """silver.weather_hourly (from the chosen weather source) and the silver tables of the settings'
    département from bronze.accidents and bronze.roads."""
    if params.seed is None:
        params = params.replace(seed=settings.seed)
    with lake_connection(settings) as con:
        lag, note = history_lag(con, settings, params)
        weather = apply_weather_choice(con, params.weather, settings)
        features = build_features(con, params.replace(history_lag_years=lag), department=settings.department.code,
                                  progress=progress)
    return SilverOutcome(features, weather, note)


def build_silver(settings: Settings, params: FeatureParams, *, source: AccidentSource | None = None,
                 progress=None) -> FeaturesOutcome:
    """bronze.roads (rebuilt when a roads file applies or the département has none), then the silver tables.
    Without `source`, the lake's own (bronze.ingest_log) gives the roads file."""
    with lake_connection(settings) as con:
        if not table_exists(con, "bronze.accidents"):
            raise AccidentsError("bronze.accidents does not exist: run `accidents ingest` first")
        source = source or ingested_source(con, settings)
        has_roads = table_exists(con, "bronze.roads") and \
            con.execute(f"SELECT count(*) FROM bronze.roads WHERE dep = {DEP}").fetchone()[0] > 0
        rebuild_roads = bool(roads_file_for(params, source, settings.department.code)) or not has_roads
    roads = build_roads_table(settings, params, source=source) if rebuild_roads else None
    return FeaturesOutcome(roads, build_silver_tables(settings, params, progress=progress))
