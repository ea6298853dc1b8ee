"""Parameters of the silver stage (roads, road grid, negative sampling, features)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipeline.core.params import Params, param

SAMPLERS = ("exclusion", "uniform")


@dataclass(frozen=True)
class FeatureParams(Params):
    roads_file: str | None = param(None, "OpenStreetMap .osm/.osm.pbf file (default: the source's roads, "
                                         "else an OpenStreetMap download, cached)", kind="str")
    grid_step: float = param(0.02, "grid cell size in degrees", low=0.001, high=1.0)
    buffer_meters: float = param(200.0, "keep cells whose centre is within this distance of a road (metres)",
                                 low=1.0, high=5000.0)
    exclusion_km: float = param(0.3, "exclusion sampler: minimum distance of a negative from every accident (km)",
                                low=0.0, high=50.0)
    temporal_risk_ratio: float = param(0.85, "exclusion sampler: share of negatives at real accident hours",
                                       low=0.0, high=1.0)
    neg_ratio: int = param(20, "negatives per positive", low=1, high=1000)
    samplers: tuple[str, ...] = param(SAMPLERS, "negative samplers to build", choices=SAMPLERS)
    history_lookback_years: int = param(3, "years of accidents before each row's year start in silver.features",
                                        low=1, high=20)
    history_cutoff: dt.date | None = param(None, "cap the point-in-time history windows at this date", kind="date")
    seed: int | None = param(None, "sampling seed (default: ACCIDENTS_SEED or 42)", kind="int", low=0)
    osm_timeout: int = param(180, "OpenStreetMap download timeout (seconds)", low=1, high=3600)
