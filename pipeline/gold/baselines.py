"""Hotspot baselines a risk model must beat: expected accidents per (road point, hour).

Both baselines factor risk as (where) x (when):
- where: `history` = past accidents counted at each road point; `kde` = a Gaussian kernel density of
  past accidents (in the metric CRS, metres) evaluated at the road points, its bandwidth chosen by
  the log-likelihood of a validation year's accidents.
- when: the hour-of-week profile of past accidents (168 shares, Monday 00h first).
- `fit_shrunk_baseline` (the fair count baseline): each point's past count shrunk towards the KDE
  (empirical Bayes with one prior strength for all points, i.e. a mixture of the count shares and
  the KDE shares whose weight is chosen on the validation year, with a small uniform floor also chosen
  there), times a smoothed weekly profile (the
  168 hour-of-week counts smoothed over neighbouring hours and mixed with the separable weekday x
  hour-of-day product, also chosen on the validation year).
Expected counts are scaled so that a year totals the fit years' mean yearly accident count, so the
baselines are also probabilistic forecasts (Poisson expected counts) and can be calibrated/Briered.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.spatial import to_metric

HOURS_PER_WEEK = 168
DEFAULT_BANDWIDTHS_M = (250.0, 500.0, 1000.0, 2000.0, 5000.0)
DEFAULT_CRS = "EPSG:3163"  # New Caledonia metric CRS (RGNC91-93 / Lambert New Caledonia)


def hour_of_week(times) -> np.ndarray:
    """0..167 = dayofweek * 24 + hour (Monday 00h = 0) for a DatetimeIndex/Series of local times."""
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


def year_shares(profile: np.ndarray, hours) -> np.ndarray:
    """Share of a year's accidents in each of `hours`: its hour-of-week slot's profile share divided
    among that slot's hours in its calendar year. A calendar year sums to 1 and a day to about 1/365,
    whatever span `hours` covers (spreading a year over the given hours would put a whole year in a
    day)."""
    hours = pd.DatetimeIndex(hours)
    slots, years = hour_of_week(hours), hours.year.to_numpy()
    profile = np.asarray(profile, dtype=float) / np.sum(profile)
    shares = np.empty(len(hours))
    for year in np.unique(years):
        calendar_year = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="h", inclusive="left")
        in_year = np.bincount(hour_of_week(calendar_year), minlength=HOURS_PER_WEEK)
        mask = years == year
        shares[mask] = profile[slots[mask]] / in_year[slots[mask]]
    return shares


def spread_over_hours(point_totals: np.ndarray, profile: np.ndarray, hours) -> np.ndarray:
    """(n_points, n_hours) float32 counts: each point's total over `hours` spread by the profile share
    of each hour, a slot's share divided among its hours present, so each row sums to its total (the
    separable oracle). A yearly rate is spread by `year_shares` instead."""
    slots = hour_of_week(hours)
    slot_hours = np.bincount(slots, minlength=HOURS_PER_WEEK).astype(float)
    per_hour = profile[slots] / np.maximum(slot_hours[slots], 1.0)
    per_hour = per_hour / per_hour.sum()
    return np.outer(np.asarray(point_totals, dtype=np.float32), per_hour.astype(np.float32))


@dataclass(frozen=True)
class HotspotBaseline:
    """A fitted (where x when) baseline: yearly expected accidents per point and the weekly profile."""

    name: str
    point_ids: np.ndarray
    point_yearly: np.ndarray  # expected accidents per point per year
    profile: np.ndarray  # 168 hour-of-week shares
    params: dict

    def expected_counts(self, hours) -> np.ndarray:
        return np.outer(np.asarray(self.point_yearly, dtype=np.float32),
                        year_shares(self.profile, hours).astype(np.float32))


def _yearly_total(accidents: pd.DataFrame, years: Sequence[int]) -> float:
    if not len(years):
        raise AccidentsError("baselines need at least one fit year")
    return len(accidents) / len(set(years))


def _point_index(point_ids: np.ndarray, accident_point_ids) -> np.ndarray:
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
    return np.column_stack(to_metric(lon, lat, crs))


# Point x accident distances held at once by the KDE (~32 MB of float64 per block).
KDE_BLOCK_PAIRS = 4_000_000


def kde_log_densities(accident_xy: np.ndarray, point_xy: np.ndarray, bandwidths_m: Sequence[float]) -> np.ndarray:
    """(len(bandwidths), n_points): log sum_j exp(-|p - a_j|^2 / 2h^2), the Gaussian KDE of the accidents at
    each point up to a constant per bandwidth. Exact sums by blocks of points, each block's distances
    computed once for every bandwidth, in log-sum-exp form so no point's density underflows to zero.
    (scikit-learn's tree KDE, exact, took minutes for the ~200 k accidents of demo scale 200.)"""
    accident_xy = np.asarray(accident_xy, dtype=float)
    point_xy = np.asarray(point_xy, dtype=float)
    if len(accident_xy) == 0:
        raise AccidentsError("KDE baseline: no past accidents to fit")
    ax, ay = accident_xy[:, 0], accident_xy[:, 1]
    scales = -0.5 / np.square(np.asarray(bandwidths_m, dtype=float))
    out = np.empty((len(scales), len(point_xy)))
    step = max(1, KDE_BLOCK_PAIRS // len(ax))

    def block_of_points(start: int) -> None:
        block = point_xy[start:start + step]
        d2 = np.square(block[:, :1] - ax) + np.square(block[:, 1:] - ay)
        nearest = d2.min(axis=1, keepdims=True)
        d2 -= nearest
        for k, scale in enumerate(scales):
            out[k, start:start + step] = np.log(np.exp(d2 * scale).sum(axis=1)) + nearest[:, 0] * scale

    starts = range(0, len(point_xy), step)
    # numpy releases the GIL on these arrays: blocks run on every core
    with ThreadPoolExecutor(max_workers=min(len(starts), os.cpu_count() or 1)) as pool:
        list(pool.map(block_of_points, starts))
    return out


def shares_of(log_density: np.ndarray) -> np.ndarray:
    """Point shares of a log density (a distribution over road points)."""
    weights = np.exp(log_density - log_density.max())
    return weights / weights.sum()


def kde_point_shares(accident_xy: np.ndarray, point_xy: np.ndarray, bandwidth_m: float) -> np.ndarray:
    """Gaussian KDE of the accidents at each road point, normalised to shares over the points."""
    return shares_of(kde_log_densities(accident_xy, point_xy, [bandwidth_m])[0])


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
    for bandwidth, log_density in zip(bandwidths_m, kde_log_densities(fit_xy, point_xy, bandwidths_m)):
        shares = shares_of(log_density)
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


SHRINK_WEIGHTS = (0.0, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 1.0)
FLOOR_WEIGHTS = (0.0, 0.005, 0.02, 0.05)
PROFILE_SMOOTHING_PASSES = (0, 1, 2, 4)
PROFILE_SEPARABLE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def smooth_weekly_counts(counts: np.ndarray, passes: int) -> np.ndarray:
    """`passes` circular [1, 2, 1] / 4 passes over the 168 hours (Sunday 23h neighbours Monday 00h)."""
    out = np.asarray(counts, dtype=float)
    for _ in range(passes):
        out = 0.25 * np.roll(out, 1) + 0.5 * out + 0.25 * np.roll(out, -1)
    return out


def separable_weekly_counts(counts: np.ndarray) -> np.ndarray:
    """weekday total x hour-of-day share: the 168 counts with no weekday x hour interaction."""
    grid = np.asarray(counts, dtype=float).reshape(7, 24)
    total = grid.sum()
    if total <= 0:
        return grid.reshape(-1)
    return np.outer(grid.sum(axis=1), grid.sum(axis=0) / total).reshape(-1)


def smoothed_profile(counts: np.ndarray, passes: int, separable_weight: float, pseudocount: float = 0.5) -> np.ndarray:
    mixed = ((1.0 - separable_weight) * smooth_weekly_counts(counts, passes)
             + separable_weight * separable_weekly_counts(counts)) + pseudocount
    return mixed / mixed.sum()


def choose_profile(fit_times, valid_times, pseudocount: float = 0.5) -> tuple[dict, float]:
    """(passes, separable weight) maximising the validation accidents' mean log slot share."""
    fit_counts = np.bincount(hour_of_week(fit_times), minlength=HOURS_PER_WEEK).astype(float)
    valid_slots = hour_of_week(valid_times)
    if valid_slots.size == 0:
        raise AccidentsError("weekly profile: the validation year has no accidents")
    best, best_score = None, -np.inf
    for passes in PROFILE_SMOOTHING_PASSES:
        for weight in PROFILE_SEPARABLE_WEIGHTS:
            score = float(np.mean(np.log(smoothed_profile(fit_counts, passes, weight, pseudocount)[valid_slots])))
            if score > best_score + 1e-12:  # ties keep the simpler (earlier) choice
                best, best_score = {"smoothing_passes": passes, "separable_weight": weight}, score
    return best, best_score


def mixed_shares(count_shares: np.ndarray, kde_shares: np.ndarray, weight: float, floor_weight: float) -> np.ndarray:
    """(1 - f) x [(1 - w) x count share + w x KDE share] + f x the uniform share."""
    shares = (1.0 - weight) * count_shares + weight * kde_shares
    return (1.0 - floor_weight) * shares + floor_weight / len(shares)


def choose_shrink_weight(count_shares: np.ndarray, kde_shares: np.ndarray, valid_point_index: np.ndarray,
                         floor: float = 1e-9) -> tuple[tuple[float, float], dict[str, float]]:
    """(KDE weight, uniform floor weight) of the mixture maximising the validation accidents' mean log
    point share. The floor keeps places far from every past accident possible: a narrow KDE gives
    them a share of 1e-300, and one accident there costs hundreds of log-likelihood units."""
    if len(valid_point_index) == 0:
        raise AccidentsError("shrinkage: the validation year has no accidents")
    scores = {}
    for weight in SHRINK_WEIGHTS:
        for floor_weight in FLOOR_WEIGHTS:
            shares = mixed_shares(count_shares, kde_shares, weight, floor_weight)[valid_point_index]
            scores[(weight, floor_weight)] = float(np.mean(np.log(np.maximum(shares, floor))))
    best = max(scores, key=lambda k: (scores[k], k[0], -k[1]))  # ties -> more shrinkage, less floor
    return best, {f"{w}/{f}": v for (w, f), v in scores.items()}


def fit_shrunk_baseline(
    points: pd.DataFrame,
    accidents: pd.DataFrame,
    fit_years: Sequence[int],
    valid_year: int,
    *,
    bandwidths_m: Sequence[float] = DEFAULT_BANDWIDTHS_M,
    crs: str = DEFAULT_CRS,
    pseudocount: float = 0.5,
) -> HotspotBaseline:
    """Counts shrunk towards the KDE x smoothed weekly profile; every choice made on `valid_year`.

    With a Gamma prior of mean `N x kde_share_i` and strength `a` (in units of the fit period) on each
    point's count, the posterior mean share is (1 - w) x count share + w x KDE share with w = a / (1 + a):
    one weight for all points, chosen by the validation accidents' log-likelihood with counts, KDE and
    profile fitted on the years before `valid_year`; the final baseline refits them on all `fit_years`.
    accidents: lat, lon, point_id, event_time, year.
    """
    point_ids = points["point_id"].to_numpy()
    point_xy = project(points["lat"], points["lon"], crs)
    years = accidents["year"].to_numpy()
    before = accidents[years < valid_year]
    validation = accidents[years == valid_year]
    if before.empty:
        raise AccidentsError(f"shrunk baseline: no accidents before validation year {valid_year}")
    valid_index = _point_index(point_ids, validation["point_id"])
    bandwidth, _ = choose_kde_bandwidth(point_xy, project(before["lat"], before["lon"], crs), valid_index,
                                        bandwidths_m)
    before_counts = np.bincount(_point_index(point_ids, before["point_id"]), minlength=len(point_ids))
    (weight, floor_weight), weight_scores = choose_shrink_weight(
        before_counts / before_counts.sum(),
        kde_point_shares(project(before["lat"], before["lon"], crs), point_xy, bandwidth), valid_index)
    profile_choice, _ = choose_profile(before["event_time"], validation["event_time"], pseudocount)

    final = accidents[np.isin(years, list(fit_years))]
    counts = np.bincount(_point_index(point_ids, final["point_id"]), minlength=len(point_ids)).astype(float)
    shares = mixed_shares(counts / counts.sum(), kde_point_shares(project(final["lat"], final["lon"], crs), point_xy,
                                                                 bandwidth), weight, floor_weight)
    weekly = np.bincount(hour_of_week(final["event_time"]), minlength=HOURS_PER_WEEK).astype(float)
    return HotspotBaseline(
        "baseline_shrunk", point_ids, shares * _yearly_total(final, fit_years),
        smoothed_profile(weekly, profile_choice["smoothing_passes"], profile_choice["separable_weight"], pseudocount),
        {"bandwidth_m": bandwidth, "kde_weight": weight, "floor_weight": floor_weight,
         "kde_weight_loglik": weight_scores, **profile_choice,
         "fit_years": sorted(set(fit_years)), "n_accidents": int(len(final))},
    )
