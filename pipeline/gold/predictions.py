"""Daily risk predictions: score every road point for every hour of the requested days.

Rows are built on a full (day, hour, point) grid and go through the same feature code as training
(`pipeline.core.features.compute_features`) with the same point-in-time history: a day of year Y sees the
accidents of [Y - lookback, Y) (bronze.accidents, averaged over the years of that window the data
covers), built once for the whole run; the model's own `history_cutoff` (the latest history end seen
in training) is never used as a cap. Probabilities land in `gold.predictions`; re-running a
(date, atm) pair replaces exactly those rows in one transaction. Long runs (a backfill) are scored and
written in blocks of days inside that transaction, so memory does not grow with the number of days.

Weather: a scenario code (`atm` 1..9) applies to every point-hour; the forecast scenario
(`atm=FORECAST`, stored as atm 0) gives each point-hour the forecast code of its hour at its nearest
station (`weather`, a pipeline.core.weather.WeatherHistory built from the forecast).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, committed, ensure_tables, scanned_once, table_exists, write_department_rows
from pipeline.gold.scoring import ProbabilityModel

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

HOURS = 24
TOP_POINTS = 10
# Point-hours scored and written per block of days: ~1 GB of rows in flight; a year at 0.02° is one block.
BLOCK_ROWS = 20_000_000

# BAAC `atm` codes. 1, 2, 3 and 5 are the scenarios offered in the notebook.
ATM_LABELS = {
    1: "Normale",
    2: "Pluie légère",
    3: "Pluie forte",
    4: "Neige - grêle",
    5: "Brouillard - fumée",
    6: "Vent fort - tempête",
    7: "Temps éblouissant",
    8: "Temps couvert",
    9: "Autre",
}
WEATHER_SCENARIOS = {"Normal": 1, "Pluie légère": 2, "Pluie forte": 3, "Brouillard": 5}
FORECAST = 0  # gold.predictions.atm of the forecast scenario (each point-hour has its own forecast code)
SCENARIO_LABELS = {FORECAST: "Prévision météo (par heure et station)", **ATM_LABELS}

PREDICTIONS_DDL = """
CREATE TABLE IF NOT EXISTS gold.predictions (
    date DATE, hour INTEGER, point_id BIGINT, lat DOUBLE, lon DOUBLE, atm INTEGER,
    probability DOUBLE, risk_index DOUBLE, rank_in_hour INTEGER, model_name VARCHAR,
    model_version VARCHAR, created_at TIMESTAMP
)"""


@dataclass(frozen=True)
class TopPoint:
    point_id: int
    lat: float
    lon: float
    com: str | None
    road_type: str | None
    speed_limit: float | None
    expected_accidents: float  # sum of the point's 24 hourly probabilities
    peak_hour: int
    peak_probability: float


@dataclass(frozen=True)
class DaySummary:
    date: dt.date
    expected_accidents: float  # sum of every point-hour probability of the day
    most_dangerous_hour: int
    most_dangerous_hour_expected: float
    top_points: tuple[TopPoint, ...]


@dataclass(frozen=True)
class PredictionSummary:
    model_name: str
    model_version: str
    atm: int
    history_cutoff: dt.datetime  # history end (asof) of the latest predicted day
    n_points: int
    rows_written: int
    days: tuple[DaySummary, ...]
    seconds: float
    history_years: tuple[int, ...] = ()  # accident years the latest day's history window covers
    newest_data_year: int | None = None  # the newest year the lake holds (the latest published)


def validate_atm(atm: object) -> int:
    """A BAAC weather code 1..9, or AccidentsError naming the parameter."""
    try:
        code = int(atm)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        code = None
    if code is None or code not in ATM_LABELS or str(atm).strip() != str(code):
        known = ", ".join(f"{k}={v}" for k, v in ATM_LABELS.items())
        raise AccidentsError(f"atm={atm!r}: unknown weather code (expected one of {known})")
    return code


def scenario_code(value: object) -> int:
    """`forecast` -> FORECAST, else a validated BAAC code (the `--atm` of predict and map)."""
    return FORECAST if str(value).strip() == "forecast" else validate_atm(value)


def tomorrow_in(tz: str, *, now: dt.datetime | None = None) -> dt.date:
    """Tomorrow's date in the given time zone (the island's day, not the server's)."""
    from zoneinfo import ZoneInfo

    current = now.astimezone(ZoneInfo(tz)) if now else dt.datetime.now(ZoneInfo(tz))
    return current.date() + dt.timedelta(days=1)


def load_history(con: duckdb.DuckDBPyConnection, days: list[dt.date], lookback_years: int,
                 cap: dt.datetime | None = None):
    """Point-in-time history for `days` (one object; windows per year), refusing days without any."""
    from pipeline.silver.features import load_scoring_history

    history = load_scoring_history(con, lookback_years, cap=cap)
    asof = history.asof(np.array(days, dtype="datetime64[D]"))
    uncovered = [day for day, years in zip(days, history.covered_years(asof)) if years <= 0]
    if uncovered:
        raise AccidentsError(f"date {uncovered[0]}: bronze.accidents has no year of history before it "
                             f"(history windows end at the year start; lookback {lookback_years} years)")
    return history


def history_years(history, asof) -> tuple[int, ...]:
    """Calendar years of the window [asof - lookback, asof) that the data period covers."""
    first = max(int(str(history.window_start(asof))[:4]), int(str(history.data_start)[:4]))
    last = min(int(str(asof)[:4]), int(str(history.data_end)[:4])) - 1
    return tuple(range(first, last + 1))


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    import pandas as pd

    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


def grid_rows(points: pd.DataFrame, days: list[dt.date], atm) -> pd.DataFrame:
    """Rows for compute_features in (day, hour, point) order, so results reshape to (D, 24, N).
    `atm`: one scenario code, or a WeatherHistory (each point-hour its own hour's code)."""
    from pipeline.core import features

    starts = np.array(days, dtype="datetime64[D]").astype("datetime64[ns]")
    hour_offsets = (np.arange(HOURS) * 3600 * 10**9).astype("timedelta64[ns]")
    return features.point_hour_rows(points, (starts[:, None] + hour_offsets[None, :]).reshape(-1), atm)


def score_days(model: ProbabilityModel, points: pd.DataFrame, days: list[dt.date], atm, history) -> np.ndarray:
    """Probabilities shaped (len(days), 24, n_points), scored in memory-bounded chunks, each distinct
    feature row once (pipeline.gold.scoring)."""
    from pipeline.gold.scoring import score_point_hours

    starts = np.array(days, dtype="datetime64[D]").astype("datetime64[ns]")
    hours = (starts[:, None] + (np.arange(HOURS) * 3600 * 10**9).astype("timedelta64[ns]")[None, :]).reshape(-1)
    proba, _ = score_point_hours(model, points, hours, history, atm, dtype=np.float64)
    # C order, (day, hour, point): day means then sum in the same order whatever the number of days
    out = np.ascontiguousarray(proba.T).reshape(len(days), HOURS, len(points))
    if not np.all(np.isfinite(out)) or out.min() < 0 or out.max() > 1:
        raise AccidentsError("model returned probabilities outside [0, 1]")
    return out


def risk_indexes_and_ranks(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """risk_index = probability / the day's mean probability; rank 1 = riskiest point of the hour."""
    day_mean = proba.mean(axis=(1, 2), keepdims=True)
    risk_index = np.divide(proba, day_mean, out=np.zeros_like(proba), where=day_mean > 0)
    order = np.argsort(-proba, axis=2, kind="stable")
    ranks = np.empty(proba.shape, dtype=np.int32)
    np.put_along_axis(ranks, order, np.arange(1, proba.shape[2] + 1, dtype=np.int32)[None, None, :], axis=2)
    return risk_index, ranks


def _prediction_rows(points: pd.DataFrame, days: list[dt.date], proba: np.ndarray) -> pa.Table:
    """The gold.predictions columns computed here for a (len(days), 24, n_points) probability grid."""
    import pyarrow as pa

    d, _, n = proba.shape
    risk_index, ranks = risk_indexes_and_ranks(proba)
    point_idx = np.tile(np.arange(n), d * HOURS)
    return pa.table(
        {
            "date": pa.array(np.repeat(np.array(days, dtype="datetime64[D]"), HOURS * n)),
            "hour": pa.array(np.tile(np.repeat(np.arange(HOURS, dtype=np.int32), n), d)),
            "point_id": pa.array(points["point_id"].to_numpy(dtype=np.int64)[point_idx]),
            "lat": pa.array(points["lat"].to_numpy(dtype=np.float64)[point_idx]),
            "lon": pa.array(points["lon"].to_numpy(dtype=np.float64)[point_idx]),
            "probability": pa.array(proba.reshape(-1)),
            "risk_index": pa.array(risk_index.reshape(-1)),
            "rank_in_hour": pa.array(ranks.reshape(-1)),
        }
    )


def _insert_predictions(con: duckdb.DuckDBPyConnection, rows: pa.Table, *, all_days: list[dt.date], atm: int,
                        model_name: str, model_version: str, created_at: dt.datetime, first: bool) -> None:
    """Inside the run's transaction: the first block replaces every requested day's rows of this
    scenario and département, later blocks append."""
    with scanned_once(con, "_new_predictions", rows):
        write_department_rows(
            con, "gold.predictions", "SELECT date, hour, point_id, lat, lon, ?::INTEGER AS atm, probability, "
            "risk_index, rank_in_hour, ?::VARCHAR AS model_name, ?::VARCHAR AS model_version, "
            "?::TIMESTAMP AS created_at FROM _new_predictions", [atm, model_name, model_version, created_at],
            key={"atm": atm, "date": list(all_days)}, insert_only=not first)


def day_blocks(days: list[dt.date], n_points: int, max_rows: int | None = None) -> list[list[dt.date]]:
    """Consecutive runs of days holding at most `max_rows` point-hours each (at least one day), so that
    a backfill's memory does not grow with its number of days."""
    per_block = max(1, (max_rows or BLOCK_ROWS) // max(1, HOURS * n_points))
    return [days[i:i + per_block] for i in range(0, len(days), per_block)]


def summarise_day(day: dt.date, proba_day: np.ndarray, points: pd.DataFrame, top_k: int = TOP_POINTS) -> DaySummary:
    """Expected accidents, riskiest hour and top points of one (24, N) probability grid."""
    per_hour = proba_day.sum(axis=1)
    per_point = proba_day.sum(axis=0)
    peak_hours = proba_day.argmax(axis=0)
    top = np.argsort(-per_point, kind="stable")[:top_k]

    def _opt(column: str, i: int):
        value = points[column].iloc[i]
        return None if value is None or (isinstance(value, float) and np.isnan(value)) else value

    top_points = tuple(
        TopPoint(
            point_id=int(points["point_id"].iloc[i]),
            lat=float(points["lat"].iloc[i]),
            lon=float(points["lon"].iloc[i]),
            com=_opt("com", i),
            road_type=_opt("road_type", i),
            speed_limit=_opt("speed_limit", i),
            expected_accidents=float(per_point[i]),
            peak_hour=int(peak_hours[i]),
            peak_probability=float(proba_day[peak_hours[i], i]),
        )
        for i in top
    )
    worst = int(per_hour.argmax())
    return DaySummary(
        date=day,
        expected_accidents=float(per_hour.sum()),
        most_dangerous_hour=worst,
        most_dangerous_hour_expected=float(per_hour[worst]),
        top_points=top_points,
    )


def predict_days(
    con: duckdb.DuckDBPyConnection,
    *,
    model: ProbabilityModel,
    model_name: str,
    model_version: str,
    dates: list[dt.date],
    atm: int = 1,
    history_cutoff: dt.datetime | None = None,
    history_lookback_years: int | None = None,
    weather=None,
) -> PredictionSummary:
    """Score 24 x N point-hours per date and write them to gold.predictions (see module docstring).

    History windows end at each date's year start, or at `history_cutoff` when it is earlier (an
    optional cap); lookback: `history_lookback_years`, else the model's, else silver.features'.
    `atm=FORECAST` needs `weather` (the forecast as a WeatherHistory covering every hour of the dates).
    """
    started = time.perf_counter()
    if atm == FORECAST:
        if weather is None:
            raise AccidentsError("--atm forecast: no forecast given")
        hours = np.array(sorted(set(dates)), dtype="datetime64[D]").astype("datetime64[h]")
        hours = (hours[:, None] + np.arange(HOURS).astype("timedelta64[h]")).ravel()
        if not np.isin(hours.astype("datetime64[ns]"), weather.hours).all():
            raise AccidentsError(f"--atm forecast: the forecast does not cover every hour of {sorted(set(dates))}")
    else:
        atm = validate_atm(atm)
    days = sorted(set(dates))
    if not days:
        raise AccidentsError("no date to predict")
    from pipeline.silver.features import load_road_points, scoring_lookback_years

    cap = _as_datetime(history_cutoff)
    lookback = scoring_lookback_years(con, model, history_lookback_years)
    points = load_road_points(con)
    history = load_history(con, days, lookback, cap)
    latest_asof = history.asof(np.array(days[-1:], dtype="datetime64[D]"))[0]
    cutoff = _as_datetime(latest_asof)
    created_at = dt.datetime.now().replace(microsecond=0)

    def write_blocks() -> tuple[list[DaySummary], int]:
        summaries: list[DaySummary] = []
        rows = 0
        for block in day_blocks(days, len(points)):
            proba = score_days(model, points, block, weather if atm == FORECAST else atm, history)
            table = _prediction_rows(points, block, proba)
            _insert_predictions(con, table, all_days=days, atm=atm, model_name=model_name,
                                model_version=str(model_version), created_at=created_at, first=not summaries)
            rows += table.num_rows
            summaries.extend(summarise_day(day, proba[i], points) for i, day in enumerate(block))
            del proba, table
        return summaries, rows

    ensure_tables(con, PREDICTIONS_DDL)
    summaries, rows = committed(con, write_blocks)  # every requested day replaced at once or not at all
    return PredictionSummary(
        model_name=model_name,
        model_version=str(model_version),
        atm=atm,
        history_cutoff=cutoff,
        n_points=len(points),
        rows_written=rows,
        days=tuple(summaries),
        seconds=time.perf_counter() - started,
        history_years=history_years(history, latest_asof),
        newest_data_year=int(str(history.data_end)[:4]) - 1,
    )


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
    import pandas as pd

    return pd.DataFrame(
        columns=["date", "hour", "point_id", "lat", "lon", "atm", "probability", "risk_index",
                 "rank_in_hour", "model_name", "model_version", "created_at", "road_type",
                 "speed_limit", "com"]
    )
