"""Hotspot baselines a risk model must beat: expected accidents per (road point, hour).

Both baselines factor risk as (where) x (when):
- where: `history` = past accidents counted at each road point; `kde` = a Gaussian kernel density of
  past accidents (in the metric CRS, metres) evaluated at the road points, its bandwidth chosen by
  the log-likelihood of a validation year's accidents.
- when: the hour-of-week profile of past accidents (168 shares, Monday 00h first).
Expected counts are scaled so that a year totals the fit years' mean yearly accident count, so the
baselines are also probabilistic forecasts (Poisson expected counts) and can be calibrated/Briered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.core.errors import AccidentsError

if TYPE_CHECKING:
    import pandas as pd

HOURS_PER_WEEK = 168
DEFAULT_BANDWIDTHS_M = (250.0, 500.0, 1000.0, 2000.0, 5000.0)
DEFAULT_CRS = "EPSG:3163"  # New Caledonia metric CRS (RGNC91-93 / Lambert New Caledonia)


def hour_of_week(times) -> np.ndarray:
    """0..167 = dayofweek * 24 + hour (Monday 00h = 0) for a DatetimeIndex/Series of local times."""
    import pandas as pd

    index = pd.DatetimeIndex(times)
    return (index.dayofweek * 24 + index.hour).to_numpy(dtype=np.int64)


def hour_of_week_profile(event_times, pseudocount: float = 0.5) -> np.ndarray:
    """Share of accidents in each of the 168 hours of the week (sums to 1).

    A small pseudo-count per slot keeps hours never seen in training from being impossible.
    """
    counts = np.bincount(hour_of_week(event_times), minlength=HOURS_PER_WEEK).astype(float)
    counts += pseudocount
    if counts.sum() <= 0:
        raise AccidentsError("hour-of-week profile: no accidents to learn it from")
    return counts / counts.sum()


def spread_over_hours(point_yearly: np.ndarray, profile: np.ndarray, hours) -> np.ndarray:
    """(n_points, n_hours) float32 expected counts: yearly rate x the profile share of each hour.

    A slot's share is divided among the hours of that slot present in `hours`, so each point's row
    sums to its yearly rate (exactly, for a full year).
    """
    slots = hour_of_week(hours)
    slot_hours = np.bincount(slots, minlength=HOURS_PER_WEEK).astype(float)
    per_hour = profile[slots] / np.maximum(slot_hours[slots], 1.0)
    per_hour = per_hour / per_hour.sum()
    return np.outer(np.asarray(point_yearly, dtype=np.float32), per_hour.astype(np.float32))


@dataclass(frozen=True)
class HotspotBaseline:
    """A fitted (where x when) baseline: yearly expected accidents per point and the weekly profile."""

    name: str
    point_ids: np.ndarray
    point_yearly: np.ndarray  # expected accidents per point per year
    profile: np.ndarray  # 168 hour-of-week shares
    params: dict

    def expected_counts(self, hours) -> np.ndarray:
        return spread_over_hours(self.point_yearly, self.profile, hours)


def _yearly_total(accidents: pd.DataFrame, years: Sequence[int]) -> float:
    if not len(years):
        raise AccidentsError("baselines need at least one fit year")
    return len(accidents) / len(set(years))


def _point_index(point_ids: np.ndarray, accident_point_ids) -> np.ndarray:
    import pandas as pd

    index = pd.Index(point_ids).get_indexer(np.asarray(accident_point_ids))
    if (index < 0).any():
        missing = np.asarray(accident_point_ids)[index < 0][0]
        raise AccidentsError(f"silver.accident_points refers to point_id {missing} absent from silver.road_points")
    return index


def fit_history_baseline(
    points: pd.DataFrame, accidents: pd.DataFrame, fit_years: Sequence[int], pseudocount: float = 0.5
) -> HotspotBaseline:
    """Past accident count per road point x hour-of-week profile.

    points: point_id (the order of the output rows); accidents: point_id, event_time of the fit years.
    """
    point_ids = points["point_id"].to_numpy()
    index = _point_index(point_ids, accidents["point_id"])
    counts = np.bincount(index, minlength=len(point_ids)).astype(float)
    yearly = counts / len(set(fit_years))  # = share x mean yearly total
    return HotspotBaseline(
        "baseline_history", point_ids, yearly, hour_of_week_profile(accidents["event_time"], pseudocount),
        {"fit_years": sorted(set(fit_years)), "n_accidents": int(len(accidents))},
    )


def project(lat, lon, crs: str = DEFAULT_CRS) -> np.ndarray:
    """(n, 2) metric coordinates (metres) of WGS84 points."""
    from pyproj import Transformer

    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = transformer.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.column_stack([x, y])


def kde_point_shares(accident_xy: np.ndarray, point_xy: np.ndarray, bandwidth_m: float) -> np.ndarray:
    """Gaussian KDE of the accidents at each road point, normalised to shares over the points."""
    from sklearn.neighbors import KernelDensity

    if len(accident_xy) == 0:
        raise AccidentsError("KDE baseline: no past accidents to fit")
    kde = KernelDensity(kernel="gaussian", bandwidth=float(bandwidth_m)).fit(accident_xy)
    log_density = kde.score_samples(point_xy)
    # Far from every accident the density underflows to -inf: keep a tiny floor so shares stay > 0.
    log_density = np.where(np.isfinite(log_density), log_density, -1e4)
    weights = np.exp(log_density - log_density.max())
    return weights / weights.sum()


def choose_kde_bandwidth(
    point_xy: np.ndarray,
    fit_xy: np.ndarray,
    valid_point_index: np.ndarray,
    bandwidths_m: Sequence[float] = DEFAULT_BANDWIDTHS_M,
    floor: float = 1e-9,
) -> tuple[float, dict[float, float]]:
    """Bandwidth maximising the mean log-likelihood of the validation accidents' road points.

    The KDE (fit on `fit_xy`) is a distribution over road points; a validation accident at point i
    scores log(share_i). Returns (best bandwidth, {bandwidth: mean log-likelihood}).
    """
    if len(valid_point_index) == 0:
        raise AccidentsError("KDE bandwidth: the validation year has no accidents")
    scores = {}
    for bandwidth in bandwidths_m:
        shares = kde_point_shares(fit_xy, point_xy, bandwidth)
        scores[float(bandwidth)] = float(np.mean(np.log(np.maximum(shares[valid_point_index], floor))))
    best = max(scores, key=lambda b: (scores[b], -b))  # ties -> the smaller bandwidth
    return best, scores


def fit_kde_baseline(
    points: pd.DataFrame,
    accidents: pd.DataFrame,
    fit_years: Sequence[int],
    valid_year: int,
    *,
    bandwidths_m: Sequence[float] = DEFAULT_BANDWIDTHS_M,
    crs: str = DEFAULT_CRS,
    pseudocount: float = 0.5,
) -> HotspotBaseline:
    """KDE hotspot x hour-of-week profile.

    The bandwidth is chosen by fitting on the fit years other than `valid_year` and scoring the
    `valid_year` accidents; the final density is refit on all fit-year accidents with that bandwidth.
    accidents: lat, lon, point_id, event_time, year (fit years only, including `valid_year` if it
    is one of them; otherwise the validation accidents must still be present with their year).
    """
    point_ids = points["point_id"].to_numpy()
    point_xy = project(points["lat"], points["lon"], crs)
    years = accidents["year"].to_numpy()
    selection = accidents[years != valid_year]
    validation = accidents[years == valid_year]
    bandwidth, scores = choose_kde_bandwidth(
        point_xy,
        project(selection["lat"], selection["lon"], crs),
        _point_index(point_ids, validation["point_id"]),
        bandwidths_m,
    )
    final = accidents[np.isin(years, list(fit_years))]
    shares = kde_point_shares(project(final["lat"], final["lon"], crs), point_xy, bandwidth)
    yearly = shares * _yearly_total(final, fit_years)
    return HotspotBaseline(
        "baseline_kde", point_ids, yearly, hour_of_week_profile(final["event_time"], pseudocount),
        {"bandwidth_m": bandwidth, "validation_loglik": scores, "fit_years": sorted(set(fit_years)),
         "n_accidents": int(len(final))},
    )
