"""Daily risk predictions: the champion's expected accidents for every road point and hour of the days.

The model is an intensity (pipeline.gold.intensity): `expected_counts` of a (points x hours) grid under
a weather. `gold.predictions` gets one row per (date, hour, point, scenario) with the expected
accidents, the probability of at least one accident (1 - exp(-lambda)), the risk index (over the day's
mean) and the rank in the hour; `gold.prediction_totals` the published totals with their 90 %
intervals: each day, each commune's day, and the day's top points with the reasons that raise them
(pipeline.gold.prediction_totals). Re-running a (date, scenario) pair replaces exactly its rows in
one transaction; long runs (a backfill) are scored and written in blocks of days inside that
transaction, so memory does not grow with the number of days.

Weather: a scenario code (`atm`) applies to every point-hour and must be a weather the model saw in
training (a scenario it never saw is refused, not extrapolated); the forecast scenario (`atm=FORECAST`,
stored as atm 0) gives each point-hour its hour's forecast at its nearest station, an unseen forecast
code counting as normal weather (the number of such point-hours is reported).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import (
    DEP,
    committed,
    department_of,
    ensure_tables,
    scanned_once,
    table_exists,
    write_department_rows,
)
from pipeline.gold.intensity.grid import ScoringGrid
from pipeline.gold.prediction_totals import TOTALS_DDL, DaySummary, day_totals, insert_totals
from pipeline.gold.scenarios import (
    FORECAST,
    HOURS,
    ensure_known_scenario,
    validate_atm,
)
from pipeline.silver.tables import load_road_points

if TYPE_CHECKING:
    import duckdb

# Point-hours scored and written per block of days: ~1 GB of rows in flight; a year at 0.02° is one block.
BLOCK_ROWS = 20_000_000


PREDICTIONS_DDL = """
CREATE TABLE IF NOT EXISTS gold.predictions (
    date DATE, hour INTEGER, point_id BIGINT, lat DOUBLE, lon DOUBLE, atm INTEGER, expected_accidents DOUBLE,
    probability DOUBLE, risk_index DOUBLE, rank_in_hour INTEGER, model_name VARCHAR, model_version VARCHAR,
    model_kind VARCHAR, created_at TIMESTAMP
)"""


@dataclass(frozen=True)
class PredictionSummary:
    model_name: str
    model_version: str
    model_kind: str
    atm: int
    n_points: int
    rows_written: int
    days: tuple[DaySummary, ...]
    seconds: float
    train_years: tuple[int, ...] = ()  # the years the model learnt from
    remapped_point_hours: int = 0  # forecast point-hours of a weather the model never saw, scored as normal


def day_hours(days: list[dt.date]) -> np.ndarray:
    starts = np.array(days, dtype="datetime64[D]").astype("datetime64[ns]")
    return (starts[:, None] + (np.arange(HOURS) * 3600 * 10**9).astype("timedelta64[ns]")[None, :]).reshape(-1)


def risk_indexes_and_ranks(expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """risk_index = expected / the day's mean expected; rank 1 = riskiest point of the hour.
    `expected`: (days, 24, points)."""
    day_mean = expected.mean(axis=(1, 2), keepdims=True)
    risk_index = np.divide(expected, day_mean, out=np.zeros_like(expected), where=day_mean > 0)
    order = np.argsort(-expected, axis=2, kind="stable")
    ranks = np.empty(expected.shape, dtype=np.int32)
    np.put_along_axis(ranks, order, np.arange(1, expected.shape[2] + 1, dtype=np.int32)[None, None, :], axis=2)
    return risk_index, ranks


def prediction_rows(points: pd.DataFrame, days: list[dt.date], expected: np.ndarray) -> pa.Table:
    """The gold.predictions columns computed here for a (len(days), 24, n_points) expected-count grid."""
    d, _, n = expected.shape
    risk_index, ranks = risk_indexes_and_ranks(expected)
    point_idx = np.tile(np.arange(n), d * HOURS)
    return pa.table({
        "date": pa.array(np.repeat(np.array(days, dtype="datetime64[D]"), HOURS * n)),
        "hour": pa.array(np.tile(np.repeat(np.arange(HOURS, dtype=np.int32), n), d)),
        "point_id": pa.array(points["point_id"].to_numpy(dtype=np.int64)[point_idx]),
        "lat": pa.array(points["lat"].to_numpy(dtype=np.float64)[point_idx]),
        "lon": pa.array(points["lon"].to_numpy(dtype=np.float64)[point_idx]),
        "expected_accidents": pa.array(expected.reshape(-1)),
        "probability": pa.array(-np.expm1(-expected.reshape(-1))),
        "risk_index": pa.array(risk_index.reshape(-1)),
        "rank_in_hour": pa.array(ranks.reshape(-1)),
    })


def day_blocks(days: list[dt.date], n_points: int, max_rows: int | None = None) -> list[list[dt.date]]:
    """Consecutive runs of days holding at most `max_rows` point-hours each (at least one day), so that
    a backfill's memory does not grow with its number of days."""
    per_block = max(1, (max_rows or BLOCK_ROWS) // max(1, HOURS * n_points))
    return [days[i:i + per_block] for i in range(0, len(days), per_block)]


def score_days(model, points: pd.DataFrame, days: list[dt.date], weather, department: str):
    """Every point x hour of `days` under `weather` (a scenario code or a forecast) -> (the scoring grid,
    the (points, hours) expected counts, the same as a (days, 24, points) cube); counts that are
    negative or not finite are refused."""
    grid = ScoringGrid(points, day_hours(days), weather, department)
    expected = model.expected_counts(grid)
    if not np.all(np.isfinite(expected)) or expected.min() < 0:
        raise AccidentsError("model returned expected counts that are negative or not finite")
    return grid, expected, np.ascontiguousarray(expected.T).reshape(len(days), HOURS, len(points))


@dataclass(frozen=True)
class _Run:
    """One predict_days call: what every block shares."""

    con: Any
    model: Any
    points: pd.DataFrame
    days: list[dt.date]
    atm: int
    weather: Any  # the scenario code, or the forecast's WeatherHistory
    department: str
    labels: dict[str, Any]  # model_name, model_version, model_kind, created_at

    def write_block(self, block: list[dt.date], first: bool) -> tuple[list[DaySummary], int, int]:
        grid, expected, cube = score_days(self.model, self.points, block, self.weather, self.department)
        _, remapped = grid.weather_for(self.model.weather_codes)
        rows = prediction_rows(self.points, block, cube)
        keep = {"atm": self.atm, "date": list(self.days)}
        with scanned_once(self.con, "_new_predictions", rows):
            write_department_rows(
                self.con, "gold.predictions", "SELECT date, hour, point_id, lat, lon, ?::INTEGER AS atm, "
                "expected_accidents, probability, risk_index, rank_in_hour, ?::VARCHAR AS model_name, "
                "?::VARCHAR AS model_version, ?::VARCHAR AS model_kind, ?::TIMESTAMP AS created_at FROM _new_predictions",
                [self.atm, *self.labels.values()], key=keep, insert_only=not first)
        summaries = day_totals(self.model, grid, expected, block)
        insert_totals(self.con, summaries, atm=self.atm, labels=self.labels, all_days=self.days, first=first)
        return summaries, rows.num_rows, remapped


def predict_days(con: duckdb.DuckDBPyConnection, *, model, model_name: str, model_version: str,
                 dates: list[dt.date], atm: int = 1, weather=None) -> PredictionSummary:
    """Score 24 x N point-hours per date and write gold.predictions and gold.prediction_totals (module
    docstring). `atm=FORECAST` needs `weather` (the forecast as a WeatherHistory covering every hour)."""
    started = time.perf_counter()
    days = sorted(set(dates))
    if not days:
        raise AccidentsError("no date to predict")
    if atm == FORECAST:
        if weather is None:
            raise AccidentsError("--atm forecast: no forecast given")
        if not np.isin(day_hours(days), weather.hours).all():
            raise AccidentsError(f"--atm forecast: the forecast does not cover every hour of {days}")
    else:
        atm = validate_atm(atm)
        ensure_known_scenario(model, atm)
    points = load_road_points(con)
    labels = {"model_name": model_name, "model_version": str(model_version), "model_kind": model.kind,
              "created_at": dt.datetime.now().replace(microsecond=0)}
    run = _Run(con, model, points, days, atm, weather if atm == FORECAST else atm, department_of(con), labels)

    def write_blocks() -> tuple[list[DaySummary], int, int]:
        summaries, rows, remapped = [], 0, 0
        for block in day_blocks(days, len(points)):
            block_summaries, block_rows, block_remapped = run.write_block(block, first=not summaries)
            summaries += block_summaries
            rows += block_rows
            remapped += block_remapped
        return summaries, rows, remapped

    ensure_tables(con, PREDICTIONS_DDL, TOTALS_DDL)
    summaries, rows, remapped = committed(con, write_blocks)  # every requested day replaced at once or not at all
    return PredictionSummary(model_name, str(model_version), model.kind, atm, len(points), rows, tuple(summaries),
                             time.perf_counter() - started, tuple(getattr(model, "train_years", ())),
                             remapped)


def read_predictions(con: duckdb.DuckDBPyConnection, day: dt.date, atm: int) -> pd.DataFrame:
    """gold.predictions of one (date, atm) joined with the road attributes the map shows."""
    if not table_exists(con, "gold.predictions"):
        return _empty_predictions()
    if table_exists(con, "silver.road_points"):
        road_cols, join = "r.road_type, r.speed_limit, r.com", "LEFT JOIN silver.road_points r USING (point_id, dep)"
    else:  # predictions outlive a rebuilt silver layer only in odd cases; map them without road details
        road_cols, join = "NULL::VARCHAR AS road_type, NULL::DOUBLE AS speed_limit, NULL::VARCHAR AS com", ""
    return con.execute(
        f"SELECT p.*, {road_cols} FROM gold.predictions p {join} "
        f"WHERE p.date = ? AND p.atm = ? AND p.dep = {DEP} ORDER BY p.hour, p.rank_in_hour",
        [day, atm],
    ).df()


def _empty_predictions() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["date", "hour", "point_id", "lat", "lon", "atm", "expected_accidents", "probability", "risk_index",
                 "rank_in_hour", "model_name", "model_version", "model_kind", "created_at", "road_type",
                 "speed_limit", "com"]
    )
