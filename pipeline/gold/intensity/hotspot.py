"""The hotspot map as a candidate: past accidents per road point, shrunk towards their kernel density
(pipeline.gold.baselines.fit_shrunk_baseline), times a smoothed hour-of-week profile. No learning
from road features or weather: it is what a road-safety team would draw by hand, and the model that
every other candidate must beat. Weather scenarios do not change it (it has no weather term)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.gold.baselines import (
    HOURS_PER_WEEK,
    HotspotBaseline,
    _point_index,
    fit_shrunk_baseline,
    hour_of_week,
    kde_point_shares,
    mixed_shares,
    project,
    smoothed_profile,
    year_shares,
)

if TYPE_CHECKING:
    from pipeline.gold.intensity.grid import ScoringGrid

KIND = "hotspot map"


@dataclass
class HotspotMap:
    point_ids: np.ndarray
    point_yearly: np.ndarray  # expected accidents per point and year
    profile: np.ndarray  # 168 hour-of-week shares
    weather_codes: tuple[int, ...]  # the weather seen in its years (scenarios outside are refused)
    train_years: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)
    year_counts: dict[int, float] = field(default_factory=dict)
    name: str = "hotspot"
    kind: str = KIND

    @classmethod
    def fit(cls, points: pd.DataFrame, accidents: pd.DataFrame, years, *, crs: str,
            weather_codes, year_counts: dict[int, float] | None = None) -> HotspotMap:
        """Counts of `years` (the last one chooses bandwidth, shrinkage and profile smoothing with fits
        on the earlier ones; a single year is both); accidents: point_id, event_time, lat, lon, year."""
        years = sorted({int(y) for y in years})
        used = accidents[accidents["year"].isin(years)]
        if used.empty:
            raise AccidentsError(f"hotspot map: no accident in {years}")
        valid = years[-1] if len(years) > 1 else years[0]
        baseline = fit_shrunk_baseline(points, used, years, valid, crs=crs) if len(years) > 1 else \
            _single_year_baseline(points, used, years[0], crs)
        return cls(baseline.point_ids, baseline.point_yearly, baseline.profile, tuple(sorted(weather_codes)),
                   tuple(years), {k: v for k, v in baseline.params.items() if k != "kde_weight_loglik"},
                   dict(year_counts or {}))

    def expected_counts(self, grid: ScoringGrid, dtype=np.float64) -> np.ndarray:
        index = pd.Index(self.point_ids).get_indexer(grid.points["point_id"])
        yearly = np.where(index >= 0, self.point_yearly[np.maximum(index, 0)], 0.0)
        return np.outer(yearly, year_shares(self.profile, grid.hours)).astype(dtype, copy=False)

    def to_json(self) -> dict[str, Any]:
        return {"point_ids": self.point_ids.astype(np.int64).tolist(), "point_yearly": self.point_yearly.tolist(),
                "profile": self.profile.tolist(), "weather_codes": list(self.weather_codes),
                "train_years": list(self.train_years), "params": self.params,
                "year_counts": {str(k): v for k, v in self.year_counts.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any], name: str = "hotspot") -> HotspotMap:
        return cls(np.asarray(data["point_ids"], dtype=np.int64), np.asarray(data["point_yearly"], float),
                   np.asarray(data["profile"], float), tuple(int(c) for c in data["weather_codes"]),
                   tuple(int(y) for y in data["train_years"]), dict(data.get("params", {})),
                   {int(k): float(v) for k, v in data.get("year_counts", {}).items()}, name=name)


def _single_year_baseline(points, accidents, year: int, crs: str):
    """One year only: no year is left to choose the shrinkage on; the KDE mixture uses the middle
    choices of the shrunk baseline's grids (KDE weight 0.5, bandwidth 1 km, a 2 % floor)."""
    point_ids = points["point_id"].to_numpy()
    counts = np.bincount(_point_index(point_ids, accidents["point_id"]), minlength=len(point_ids)).astype(float)
    kde = kde_point_shares(project(accidents["lat"], accidents["lon"], crs), project(points["lat"], points["lon"], crs),
                           1000.0)
    shares = mixed_shares(counts / counts.sum(), kde, 0.5, 0.02)
    weekly = np.bincount(hour_of_week(accidents["event_time"]), minlength=HOURS_PER_WEEK).astype(float)
    return HotspotBaseline("baseline_shrunk", point_ids, shares * len(accidents), smoothed_profile(weekly, 2, 0.5),
                           {"bandwidth_m": 1000.0, "kde_weight": 0.5, "floor_weight": 0.02, "fit_years": [year],
                            "n_accidents": int(len(accidents))})
