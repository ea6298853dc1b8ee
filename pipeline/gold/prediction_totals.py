"""The totals a predicted day publishes, each with its 90 % interval: the day, each commune's day and the
day's top points (with the reasons that raise them). Stored in gold.prediction_totals, one row per
(date, scenario, scope, key): scope 'day' (key ''), 'commune' (key: INSEE code), 'hotspot' (key: point
id, with rank, peak hour and reasons as JSON)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.core.lake import DEP, scanned_once, table_exists, write_department_rows
from pipeline.gold.intensity.reasons import model_reasons, time_reference
from pipeline.gold.intensity.uncertainty import Aggregates, Interval, aggregate_intervals, glm_part
from pipeline.gold.scenarios import HOURS

if TYPE_CHECKING:
    from pipeline.gold.intensity.grid import ScoringGrid

TOP_POINTS = 10

TOTALS_DDL = """
CREATE TABLE IF NOT EXISTS gold.prediction_totals (
    date DATE, atm INTEGER, scope VARCHAR, key VARCHAR, rank INTEGER, expected DOUBLE, low DOUBLE, high DOUBLE,
    count_low INTEGER, count_high INTEGER, peak_hour INTEGER, reasons VARCHAR, lat DOUBLE, lon DOUBLE,
    model_name VARCHAR, model_version VARCHAR, model_kind VARCHAR, created_at TIMESTAMP
)"""


@dataclass(frozen=True)
class TopPoint:
    point_id: int
    lat: float
    lon: float
    com: str | None
    road_type: str | None
    speed_limit: float | None
    interval: Interval  # the point's expected accidents over the day
    peak_hour: int
    peak_expected: float
    reasons: tuple[dict, ...] = ()

    @property
    def expected_accidents(self) -> float:
        return self.interval.expected


@dataclass(frozen=True)
class DaySummary:
    date: dt.date
    interval: Interval  # every point-hour of the day
    most_dangerous_hour: int
    most_dangerous_hour_expected: float
    top_points: tuple[TopPoint, ...]
    communes: dict[str, Interval] = field(default_factory=dict)

    @property
    def expected_accidents(self) -> float:
        return self.interval.expected


def _optional(points: pd.DataFrame, column: str, i: int):
    if column not in points:
        return None
    value = points[column].iloc[i]
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def day_totals(model, grid: ScoringGrid, expected: np.ndarray, days: list[dt.date]) -> list[DaySummary]:
    """One DaySummary per day of `grid` (consecutive days of 24 hours; `expected`: the (P, H) counts)."""
    points = grid.points
    n_days, n_points = len(days), len(points)
    per_day = expected.reshape(n_points, n_days, HOURS)
    tops = np.argsort(-per_day.sum(axis=2), axis=0, kind="stable")[:TOP_POINTS]  # (top, days)
    communes = sorted({str(c) for c in points["com"].dropna()}) if "com" in points else []
    commune_of = points["com"].astype(object).where(points["com"].notna(), "").astype(str).to_numpy()
    hotspots = np.unique(tops)
    hotspot_rows = np.zeros((len(hotspots), n_points))
    hotspot_rows[np.arange(len(hotspots)), hotspots] = 1.0
    weights = np.vstack([np.ones((1, n_points)), (commune_of[None, :] == np.array(communes)[:, None]).astype(float),
                         hotspot_rows])
    day_of = np.arange(n_days)
    rows = np.concatenate([np.zeros(n_days, int), *(np.full(n_days, 1 + k) for k in range(len(communes))),
                           1 + len(communes) + np.searchsorted(hotspots, tops.T.reshape(-1))])
    periods = np.concatenate([np.tile(day_of, 1 + len(communes)), np.repeat(day_of, tops.shape[0])])
    intervals = aggregate_intervals(model, grid, expected, Aggregates(weights, rows, periods,
                                                                      np.repeat(day_of, HOURS)))
    top_start = n_days * (1 + len(communes))
    glm = glm_part(model)
    reference = time_reference(glm, days[0].year, grid.department) if glm is not None else None
    cells, series = grid.cells_for(model.weather_codes)
    out = []
    for d, day in enumerate(days):
        hourly = per_day[:, d, :].sum(axis=0)
        top = []
        for rank, i in enumerate(tops[:, d]):
            peak = int(per_day[i, d].argmax())
            hour = d * HOURS + peak
            key = cells.keys.iloc[[cells.key_of[series.series_of_point[i], hour]]].reset_index(drop=True)
            top.append(TopPoint(int(points["point_id"].iloc[i]), float(points["lat"].iloc[i]),
                                float(points["lon"].iloc[i]), _optional(points, "com", i),
                                _optional(points, "road_type", i), _optional(points, "speed_limit", i),
                                intervals[top_start + d * tops.shape[0] + rank], peak, float(per_day[i, d, peak]),
                                tuple(model_reasons(model, points, int(i), grid.hours[hour], key, reference))))
        worst = int(hourly.argmax())
        out.append(DaySummary(day, intervals[d], worst, float(hourly[worst]), tuple(top),
                              {c: intervals[(1 + k) * n_days + d] for k, c in enumerate(communes)}))
    return out


def totals_frame(summaries: list[DaySummary], atm: int) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []

    def row(day, scope, key, interval: Interval, **extra) -> dict[str, Any]:
        return {"date": day, "atm": atm, "scope": scope, "key": key, "rank": None, "peak_hour": None, "reasons": None,
                "lat": None, "lon": None, **interval.as_dict(), **extra}

    for s in summaries:
        rows.append(row(s.date, "day", "", s.interval, peak_hour=s.most_dangerous_hour))
        rows += [row(s.date, "commune", com, interval) for com, interval in s.communes.items()]
        rows += [row(s.date, "hotspot", str(p.point_id), p.interval, rank=rank, peak_hour=p.peak_hour,
                     reasons=json.dumps(list(p.reasons), ensure_ascii=False), lat=p.lat, lon=p.lon)
                 for rank, p in enumerate(s.top_points, 1)]
    return pd.DataFrame(rows)


def insert_totals(con, summaries: list[DaySummary], *, atm: int, labels: dict[str, Any], all_days, first: bool) -> None:
    """Inside the prediction run's transaction: the first block replaces every requested day's totals
    of this scenario, later blocks append."""
    frame = totals_frame(summaries, atm)
    columns = ("date, atm, scope, key, rank, expected, low, high, count_low, count_high, peak_hour, reasons, lat, lon")
    with scanned_once(con, "_new_totals", frame):
        write_department_rows(
            con, "gold.prediction_totals", f"SELECT {columns}, ?::VARCHAR AS model_name, ?::VARCHAR AS model_version, "
            "?::VARCHAR AS model_kind, ?::TIMESTAMP AS created_at FROM _new_totals", list(labels.values()),
            key={"atm": atm, "date": list(all_days)}, insert_only=not first)


def read_totals(con, day: dt.date, atm: int) -> pd.DataFrame | None:
    """gold.prediction_totals of one (date, scenario), or None when the table does not exist."""
    if not table_exists(con, "gold.prediction_totals"):
        return None
    return con.execute(f"SELECT * FROM gold.prediction_totals WHERE date = ? AND atm = ? AND dep = {DEP} "
                       "ORDER BY scope, rank", [day, atm]).df()
