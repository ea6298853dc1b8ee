"""Negative sampling over road-point-hours, deterministic for a seed.

- `exclusion`: road points at least `exclusion_km` from every accident of the period; timestamps taken
  from real accident hours with probability `temporal_ratio`, otherwise uniform over the period.
- `uniform`: road point x hour uniformly over the period, no exclusion (gives calibratable scores).
Weather (atm) is drawn from the period's accident atm distribution (there is no hourly weather record).
Each negative carries sampling_weight = road-point-hours of the period / negatives drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.core.errors import AccidentsError

if TYPE_CHECKING:
    import pandas as pd

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
    import pandas as pd

    values = pd.Series(atm).dropna().astype(int)
    if values.empty:
        return np.array([DEFAULT_ATM]), np.array([1.0])
    counts = values.value_counts().sort_index()
    return counts.index.to_numpy(), (counts / counts.sum()).to_numpy()


def _uniform_hours(rng: np.random.Generator, period: Period, n: int) -> np.ndarray:
    return period.start + rng.integers(0, period.n_hours, size=n).astype("timedelta64[h]")


def _draw_atm(rng: np.random.Generator, accidents: pd.DataFrame, n: int) -> np.ndarray:
    codes, probs = atm_distribution(accidents["atm"])
    return rng.choice(codes, size=n, p=probs).astype(np.int64)


def _frame(point_ids, times, atm):
    import pandas as pd

    return pd.DataFrame({"point_id": np.asarray(point_ids, dtype=np.int64),
                         "event_time": np.asarray(times, dtype="datetime64[ns]"),
                         "atm": np.asarray(atm, dtype=np.int64)})


def exclusion_candidates(points: pd.DataFrame, accidents: pd.DataFrame, exclusion_km: float) -> np.ndarray:
    """Boolean mask of road points with no accident of the period within exclusion_km."""
    from pipeline.core.spatial import count_within_km, haversine_tree

    located = accidents.dropna(subset=["lat", "lon"])
    if located.empty:
        return np.ones(len(points), dtype=bool)
    tree = haversine_tree(located["lat"], located["lon"])
    return count_within_km(tree, points["lat"], points["lon"], exclusion_km) == 0


def sample_exclusion(points: pd.DataFrame, accidents: pd.DataFrame, period: Period, *, n_negatives: int,
                     exclusion_km: float, temporal_ratio: float, seed: int) -> pd.DataFrame:
    """Negatives away from every accident: point_id, event_time (hourly), atm."""
    rng = np.random.default_rng([seed, 1])
    candidates = points["point_id"].to_numpy()[exclusion_candidates(points, accidents, exclusion_km)]
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
    return _frame(chosen, times, _draw_atm(rng, accidents, n_negatives))


def sample_uniform(points: pd.DataFrame, accidents: pd.DataFrame, period: Period, *, n_negatives: int,
                   seed: int) -> pd.DataFrame:
    """Negatives uniform over road points x hours of the period: point_id, event_time, atm."""
    rng = np.random.default_rng([seed, 2])
    chosen = rng.choice(points["point_id"].to_numpy(), size=n_negatives, replace=True)
    return _frame(chosen, _uniform_hours(rng, period, n_negatives), _draw_atm(rng, accidents, n_negatives))


def negative_weight(n_points: int, period: Period, n_negatives: int) -> float:
    """Inverse sampling fraction: each negative stands for this many road-point-hours."""
    return n_points * period.n_hours / n_negatives
