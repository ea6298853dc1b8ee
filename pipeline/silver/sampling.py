"""Negative sampling over road-point-hours, deterministic for a seed.

- `exclusion`: road points at least `exclusion_km` from every accident of the period; timestamps taken
  from real accident hours with probability `temporal_ratio`, otherwise uniform over the period.
- `uniform`: road point x hour uniformly over the period, no exclusion (gives calibratable scores).
Weather (atm): with an hourly weather history (silver.weather_hourly) every negative takes the code its
nearest station recorded at the negative's own hour, as positives do; without one (`weather=None`) the
code is drawn from the period's accident atm distribution, which ties weather to nothing but chance
(a model then learns the season, not the rain), so that path exists only for lakes without weather.
Each negative carries sampling_weight = road-point-hours of the period / negatives drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.spatial import count_within_km, haversine_tree

SAMPLERS = ("exclusion", "uniform")
DEFAULT_ATM = 1  # BAAC "Normale", used only when no accident of the period has a weather code


@dataclass(frozen=True)
class Period:
    """[start, end) in whole hours."""

    start: np.datetime64
    end: np.datetime64

    @property
    def n_hours(self) -> int:
        return int((self.end - self.start) / np.timedelta64(1, "h"))

    @classmethod
    def covering_years(cls, event_times) -> Period:
        """Whole calendar years from the first to the last accident."""
        years = np.asarray(event_times, dtype="datetime64[ns]").astype("datetime64[Y]")
        return cls(years.min().astype("datetime64[h]"), (years.max() + 1).astype("datetime64[h]"))


def atm_distribution(atm) -> tuple[np.ndarray, np.ndarray]:
    """(codes, probabilities) of the non-null weather codes, sorted by code."""
    values = pd.Series(atm).dropna().astype(int)
    if values.empty:
        return np.array([DEFAULT_ATM]), np.array([1.0])
    counts = values.value_counts().sort_index()
    return counts.index.to_numpy(), (counts / counts.sum()).to_numpy()


def _uniform_hours(rng: np.random.Generator, period: Period, n: int) -> np.ndarray:
    return period.start + rng.integers(0, period.n_hours, size=n).astype("timedelta64[h]")


def _draw_atm(rng: np.random.Generator, accidents: pd.DataFrame, points: pd.DataFrame, chosen: np.ndarray,
              times: np.ndarray, weather) -> np.ndarray:
    """Each negative's weather: its own hour at its nearest station, or (no history) a draw from the
    accidents' weather distribution."""
    if weather is not None:
        return weather_at_points(weather, points, chosen, times)[0]
    codes, probs = atm_distribution(accidents["atm"])
    return rng.choice(codes, size=len(chosen), p=probs).astype(np.int64)


def weather_at_points(weather, points: pd.DataFrame, point_ids, times) -> tuple[np.ndarray, int]:
    """(atm of each row, rows no station covers) for rows on road points (`point_ids`) at `times`."""
    positions = pd.Index(points["point_id"]).get_indexer(np.asarray(point_ids))
    if (positions < 0).any():
        raise AccidentsError("a row's point_id is not a road point")
    return weather.atm_at_places(points["lat"].to_numpy(float), points["lon"].to_numpy(float), positions, times)


def _frame(point_ids, times, atm):
    return pd.DataFrame({"point_id": np.asarray(point_ids, dtype=np.int64),
                         "event_time": np.asarray(times, dtype="datetime64[ns]"),
                         "atm": np.asarray(atm, dtype=np.int64)})


def exclusion_candidates(points: pd.DataFrame, accidents: pd.DataFrame, exclusion_km: float) -> np.ndarray:
    """Boolean mask of road points with no accident of the period within exclusion_km."""
    located = accidents.dropna(subset=["lat", "lon"])
    if located.empty:
        return np.ones(len(points), dtype=bool)
    tree = haversine_tree(located["lat"], located["lon"])
    return count_within_km(tree, points["lat"], points["lon"], exclusion_km) == 0


def sample_exclusion(points: pd.DataFrame, accidents: pd.DataFrame, period: Period, *, n_negatives: int,
                     exclusion_km: float, temporal_ratio: float, seed: int,
                     exclusion_accidents: pd.DataFrame | None = None, weather=None) -> pd.DataFrame:
    """Negatives away from every accident: point_id, event_time (hourly), atm (their own hour's, from
    `weather`).

    `exclusion_accidents` (default: `accidents`) are the ones the negatives keep away from: only those
    before the test year, so the test year's places do not shape the training negatives."""
    rng = np.random.default_rng([seed, 1])
    zone = accidents if exclusion_accidents is None else exclusion_accidents
    candidates = points["point_id"].to_numpy()[exclusion_candidates(points, zone, exclusion_km)]
    if candidates.size == 0:
        raise AccidentsError(
            f"exclusion_km={exclusion_km}: every road point lies within {exclusion_km} km of an accident; "
            "lower it or use samplers=uniform"
        )
    chosen = rng.choice(candidates, size=n_negatives, replace=True)
    accident_hours = np.asarray(accidents["event_time"], dtype="datetime64[ns]").astype("datetime64[h]")
    from_accidents = rng.random(n_negatives) < temporal_ratio
    times = _uniform_hours(rng, period, n_negatives)
    picks = rng.integers(0, len(accident_hours), size=int(from_accidents.sum()))
    times[from_accidents] = accident_hours[picks]
    return _frame(chosen, times, _draw_atm(rng, accidents, points, chosen, times, weather))


def sample_uniform(points: pd.DataFrame, accidents: pd.DataFrame, period: Period, *, n_negatives: int,
                   seed: int, weather=None) -> pd.DataFrame:
    """Negatives uniform over road points x hours of the period: point_id, event_time, atm."""
    rng = np.random.default_rng([seed, 2])
    chosen = rng.choice(points["point_id"].to_numpy(), size=n_negatives, replace=True)
    times = _uniform_hours(rng, period, n_negatives)
    return _frame(chosen, times, _draw_atm(rng, accidents, points, chosen, times, weather))


def negative_weight(n_points: int, period: Period, n_negatives: int) -> float:
    """Inverse sampling fraction: each negative stands for this many road-point-hours."""
    return n_points * period.n_hours / n_negatives
