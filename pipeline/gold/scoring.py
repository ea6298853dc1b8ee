"""Scoring a (road point x hour) grid in bounded chunks, each distinct feature row once.

A scoring grid repeats itself: a feature row is the road point's attributes and history, the hour's
calendar (hour, weekday, month, holidays of the point's département), the weather code and the
history window (which moves at year starts only). Two Tuesdays 08:00 of the same month, outside
holidays and in the same weather, give every road point the same row, so a deterministic model
gives it the same probability. Points are grouped by département and by weather series (points
sharing a station get the same code every hour); within a group, each hour gets a key from a probe
point's feature row (which holds every calendar feature) with the weather code and the history
window, and only one hour per distinct key is built and scored: about 40 % of a year's cell-hours.

Memory: rows are built, encoded and scored `chunk_rows` at a time (a point x hour grid is never
held as a DataFrame; one chunk is scored while the next is built); the result is one numpy matrix
of probabilities.

Booster speed: the distinct hours keep their time order and each chunk's rows are point-major (all
hours of a point, then the next), so consecutive rows take mostly the same branches (~15 % less
LightGBM CPU than hours in key order); a grid of COMPILE_MIN_CELL_HOURS or more is scored by the
model's compiled form when it has one (`model.compiled()`: LightGBM trees run by a numba kernel,
bit-identical probabilities, about half the CPU; pipeline.gold.lightgbm_compiled).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pipeline.core.errors import AccidentsError

if TYPE_CHECKING:
    import pandas as pd

CHUNK_ROWS = 250_000  # feature rows built and scored at once (~1.5 kB a row through features and model)
SCATTER_HOURS = 512  # hours copied from the distinct rows into the grid at once
# Below this many cell-hours the booster's own predict is used: importing numba and loading the
# compiled kernel (~1 s, more on the first run on a machine) would outweigh the gain (a 0.005-deg
# day is 0.5 M cell-hours; a 0.02-deg year 11 M).
COMPILE_MIN_CELL_HOURS = 2_000_000


class ProbabilityModel(Protocol):
    """Optionally also `compiled() -> ProbabilityModel`: the same probabilities, faster on large grids."""

    def predict_probability(self, df: pd.DataFrame) -> np.ndarray: ...


def point_groups(points: pd.DataFrame, hours, atm) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(member indices, atm code of each hour) of every group of points sharing a département and a
    weather series. `atm`: one code, one code per hour, or a WeatherHistory."""
    from pipeline.core.weather import WeatherHistory

    n_points, n_hours = len(points), len(hours)
    if isinstance(atm, WeatherHistory):
        weather_group, series = atm.series_groups(points["lat"].to_numpy(float), points["lon"].to_numpy(float),
                                                  hours)
    else:
        weather_group = np.zeros(n_points, dtype=np.int64)
        series = np.broadcast_to(np.asarray(atm, dtype=np.int64), (n_hours,))[None, :]
    deps = points["dep"].astype(str).to_numpy() if "dep" in points else np.zeros(n_points, dtype=str)
    _, dep_group = np.unique(deps, return_inverse=True)
    _, group = np.unique(np.column_stack([weather_group, dep_group.reshape(-1)]), axis=0, return_inverse=True)
    group = group.reshape(-1)
    for g in range(int(group.max()) + 1 if n_points else 0):
        members = np.flatnonzero(group == g)
        yield members, np.asarray(series[weather_group[members[0]]])


def hour_keys(probe: pd.DataFrame, hours: pd.DatetimeIndex, atm: np.ndarray, history) -> np.ndarray:
    """An integer per hour, equal for hours whose feature rows are equal at every point of the probe's
    group: the probe point's feature row (every calendar feature, the weather code) and the history
    window of the hour."""
    import pandas as pd

    from pipeline.core.features import FEATURE_COLUMNS, compute_features, point_hour_rows

    rows = compute_features(point_hour_rows(probe, hours, atm), history)[FEATURE_COLUMNS]
    row_hash = pd.util.hash_pandas_object(rows, index=False).to_numpy().view(np.int64)
    asof = history.asof(hours.to_numpy(dtype="datetime64[ns]")).astype(np.int64)
    _, keys = np.unique(np.column_stack([row_hash, asof]), axis=0, return_inverse=True)
    return keys.reshape(-1)


def score_point_hours(model: ProbabilityModel, points: pd.DataFrame, hours, history, atm=1, *,
                      chunk_rows: int | None = None, dtype=np.float32) -> tuple[np.ndarray, dict[str, float]]:
    """(n_points, n_hours) probabilities of `model` for every point x hour, and {'features_s',
    'scoring_s', 'rows_scored', 'largest_chunk_rows', 'compiled' (scored by the model's compiled form)}.
    The model scores a chunk in a worker thread while the next chunk's features are built (booster
    and numba kernel release the GIL), so features_s and scoring_s overlap: their sum exceeds the wall
    time; at most two chunks are in memory.

    history: an AccidentHistory built once by the caller; atm: one code, one per hour, or a
    WeatherHistory (each point-hour its hour's code at its nearest station); chunk_rows: default
    CHUNK_ROWS."""
    import pandas as pd

    chunk_rows = CHUNK_ROWS if chunk_rows is None else chunk_rows
    if chunk_rows < 1:
        raise AccidentsError(f"chunk_rows={chunk_rows}: expected at least 1")
    hours = pd.DatetimeIndex(hours)
    prob = np.empty((len(points), len(hours)), dtype=dtype)
    stats = {"features_s": 0.0, "scoring_s": 0.0, "rows_scored": 0, "largest_chunk_rows": 0, "compiled": False}
    if prob.size >= COMPILE_MIN_CELL_HOURS and hasattr(model, "compiled"):
        t0 = time.perf_counter()
        compiled = model.compiled()
        stats["compiled"] = compiled is not model
        model = compiled
        stats["scoring_s"] += time.perf_counter() - t0
    with ThreadPoolExecutor(1) as scorer:  # scores chunk k while this thread builds chunk k+1
        for members, series in point_groups(points, hours, atm):
            group = points.iloc[members].reset_index(drop=True)
            inverse, distinct = _score_group(scorer, model, group, hours, series, history, chunk_rows, dtype, stats)
            target = slice(None) if len(members) == len(points) else members
            for start in range(0, len(hours), SCATTER_HOURS):
                block = slice(start, start + SCATTER_HOURS)
                prob[target, block] = distinct[inverse.reshape(-1)[block]].T
    return prob, stats


def _score_group(scorer: ThreadPoolExecutor, model: ProbabilityModel, group: pd.DataFrame, hours, series,
                 history, chunk_rows: int, dtype, stats: dict) -> tuple[np.ndarray, np.ndarray]:
    """One group of points whose hours share their weather series, scored once per distinct hour key
    (the features of an hour depend only on its key) -> (inverse: each hour's key number, distinct:
    (keys, points) probabilities). Chunks of about `chunk_rows` point-hours, scored by `scorer`."""
    import pandas as pd

    from pipeline.core.features import FEATURE_COLUMNS, compute_features, point_hour_rows

    t0 = time.perf_counter()
    # distinct hours numbered in order of first appearance, so chunks hold them in time order
    inverse, _ = pd.factorize(hour_keys(group.iloc[:1], hours, series, history))
    first = np.unique(inverse, return_index=True)[1]
    stats["features_s"] += time.perf_counter() - t0
    distinct = np.empty((len(first), len(group)), dtype=dtype)
    per_chunk = max(1, chunk_rows // len(group))
    pending = None
    for start in range(0, len(first), per_chunk):
        chosen = first[start:start + per_chunk]
        t0 = time.perf_counter()
        rows = compute_features(point_hour_rows(group, hours[chosen], series[chosen], point_major=True),
                                history)[FEATURE_COLUMNS]
        stats["features_s"] += time.perf_counter() - t0
        stats["rows_scored"] += len(rows)
        stats["largest_chunk_rows"] = max(stats["largest_chunk_rows"], len(rows))
        if pending is not None:
            _store(pending, distinct, stats)
        pending = (scorer.submit(_timed_probabilities, model, rows), start, len(group))
        del rows
    if pending is not None:
        _store(pending, distinct, stats)
    return inverse, distinct


def _timed_probabilities(model: ProbabilityModel, rows: pd.DataFrame) -> tuple[np.ndarray, int, float]:
    t0 = time.perf_counter()
    p = np.asarray(model.predict_probability(rows), dtype=np.float64)
    if p.shape != (len(rows),):
        raise AccidentsError(f"model returned {p.shape} probabilities for {len(rows)} rows")
    return p, len(rows), time.perf_counter() - t0


def _store(pending, distinct: np.ndarray, stats: dict) -> None:
    """Wait for a chunk's probabilities and put them in its rows of `distinct` (point-major rows)."""
    job, start, n_members = pending
    p, n_rows, seconds = job.result()
    n_hours = n_rows // n_members
    distinct[start:start + n_hours] = p.reshape(n_members, n_hours).T
    stats["scoring_s"] += seconds
