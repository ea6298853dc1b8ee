"""Stage: bronze.accidents + bronze.roads -> silver.road_points, silver.accident_points,
silver.features, silver.features_reference (positives + sampled negatives of each sampler) and
silver.features_meta.

Positives sit on their accident's nearest road point (features use the road point's coordinates and
the accident's hour); negatives come from `pipeline.silver.sampling`. The same sampled rows get two histories:
- silver.features: point-in-time (`AccidentHistory.point_in_time`): accidents of the `lookback` years
  before the row's year start (capped at `history_cutoff`), per covered year. Rows of the first data
  year have no covered history year and are dropped (counted in the summary and features_meta).
- silver.features_reference: the predecessor's leave-one-out history over every accident (all rows).
`history_cutoff` holds each row's history end (its asof; the period end for the reference table).
Weather: when the lake holds silver.weather_hourly, positives and negatives alike take the `atm` their
road point's nearest station recorded at the row's own hour (one definition for both classes, and the
one scoring uses); without it positives keep the accident's reported atm and negatives draw theirs
from the accidents' distribution (see pipeline.silver.sampling), and the summary says so.
Every table is replaced atomically; the two feature tables in one transaction.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.bronze.roads import load_accidents, load_roads
from pipeline.core.communes import commune_seats
from pipeline.core.departments import department as department_profile
from pipeline.core.errors import AccidentsError
from pipeline.core.features import (
    CATEGORICAL,
    FEATURE_COLUMNS,
    POINT_ATTRIBUTES,
    AccidentHistory,
    compute_features,
    history_features,
)
from pipeline.core.lake import (
    DEP,
    committed,
    replace_department_table,
    scanned_once,
    table_exists,
    use_department,
    write_department_rows,
)
from pipeline.core.weather import load_weather_history
from pipeline.silver import sampling
from pipeline.silver.params import FeatureParams
from pipeline.silver.road_points import attach_communes, build_road_points, snap_accidents
from pipeline.silver.sampling import atm_distribution, weather_at_points

if TYPE_CHECKING:
    import duckdb

    from pipeline.silver.sampling import Period

DEFAULT_SEED = 42
CHUNK_ROWS = 2_000_000  # feature rows computed and inserted per batch (bounds peak memory)
_INTEGER_FEATURES = {"hour", "dayofweek", "month", "atm", "rain_level", "is_weekend",
                     "is_rush_morning", "is_rush_evening", "is_night", "is_holiday", "school_holidays"}
ROW_COLUMNS = {"sampler": "VARCHAR", "row_id": "BIGINT", "target": "INTEGER", "accident_id": "VARCHAR",
               "point_id": "BIGINT", "event_time": "TIMESTAMP", "year": "INTEGER", "sampling_weight": "DOUBLE"}
FEATURE_TYPES = {name: "VARCHAR" if name in CATEGORICAL and name != "atm"
                 else "INTEGER" if name in _INTEGER_FEATURES else "DOUBLE" for name in FEATURE_COLUMNS}


@dataclass(frozen=True)
class FeaturesSummary:
    road_points: int
    accident_points: int
    rows_by_sampler: dict[str, int]
    positives: int
    negatives_by_sampler: dict[str, int]
    n_hours: int
    timings: dict[str, float] = field(default_factory=dict)
    # sampled rows left out of silver.features (no covered history year: the first data year)
    dropped_without_history: dict[str, int] = field(default_factory=dict)
    history_lookback_years: int = 3
    weather: str = "none"  # silver.weather_hourly's source, or "none" (accidents' weather distribution)
    rows_without_weather: int = 0  # sampled rows whose hour no station covers (given atm 1, normal)
    history_lag_years: int = 0

    @property
    def point_in_time_rows(self) -> dict[str, int]:
        """Rows per sampler in silver.features (silver.features_reference holds rows_by_sampler)."""
        return {s: n - self.dropped_without_history.get(s, 0) for s, n in self.rows_by_sampler.items()}


def _write_frame(con, qualified: str, frame: pd.DataFrame) -> int:
    con.register("silver_frame", frame)
    try:
        return replace_department_table(con, qualified, "SELECT * FROM silver_frame")
    finally:
        con.unregister("silver_frame")


def _positives(accidents: pd.DataFrame, accident_points: pd.DataFrame, points: pd.DataFrame,
               weather=None) -> tuple[pd.DataFrame, int]:
    """One row per located accident on its road point, hour-truncated, with a weather code: its road
    point's station weather of that hour when a history is given, else the reported one. Returns the
    rows and how many of them no station covers."""
    positives = accident_points[["accident_id", "point_id"]].merge(
        accidents[["accident_id", "event_time", "atm"]].astype({"accident_id": str}), on="accident_id")
    positives = positives.dropna(subset=["event_time"]).sort_values("accident_id", kind="stable")
    positives["event_time"] = positives["event_time"].astype("datetime64[ns]").dt.floor("h")
    positives = positives.reset_index(drop=True)
    if weather is not None:
        atm, missing = weather_at_points(weather, points, positives["point_id"], positives["event_time"].to_numpy())
        return positives.assign(atm=atm), missing
    codes, probs = atm_distribution(accidents["atm"])
    positives["atm"] = positives["atm"].fillna(codes[np.argmax(probs)]).astype(np.int64)  # unknown -> mode
    return positives, 0


def _sampler_rows(sampler: str, positives, negatives, weight: float) -> pd.DataFrame:
    """Positives then negatives, column by column: pd.concat's alignment of the negatives' missing
    accident_id took ~15 % of the features stage at demo scale 200."""
    counts = [len(positives), len(negatives)]

    def both(column: str, dtype) -> np.ndarray:
        return np.concatenate([positives[column].to_numpy(dtype), negatives[column].to_numpy(dtype)])

    return pd.DataFrame({
        "sampler": np.full(sum(counts), sampler, dtype=object),
        "row_id": np.arange(sum(counts), dtype=np.int64),
        "accident_id": np.concatenate([positives["accident_id"].to_numpy(object), np.full(counts[1], None, object)]),
        "point_id": both("point_id", np.int64),
        "event_time": both("event_time", "datetime64[ns]"),
        "atm": both("atm", np.int64),
        "target": np.repeat(np.array([1, 0], dtype=np.int64), counts),
        "sampling_weight": np.repeat([1.0, weight], counts),
    })


def _insert(con, table: str, frame: pd.DataFrame, select: str, first: bool) -> None:
    with scanned_once(con, "features_chunk", frame):
        write_department_rows(con, table, f"SELECT {select} FROM features_chunk", insert_only=not first)


def _write_features(con, row_sets: list[pd.DataFrame], points, point_in_time, reference,
                    reference_cutoff) -> dict[str, int]:
    """Compute features batch by batch and write silver.features and silver.features_reference in one
    transaction. Returns the rows per sampler dropped from silver.features (no covered history)."""
    select = ", ".join([f'"{c}"::{t} AS "{c}"' for c, t in {**ROW_COLUMNS, **FEATURE_TYPES}.items()]
                       + ['"history_cutoff"::TIMESTAMP AS "history_cutoff"'])
    attributes = points[POINT_ATTRIBUTES]
    return committed(con, lambda: _write_feature_tables(con, row_sets, attributes, point_in_time, reference,
                                                        reference_cutoff, select))


def _write_feature_tables(con, row_sets, attributes, point_in_time, reference, reference_cutoff,
                          select: str) -> dict[str, int]:
    """Inside the transaction: both feature tables' rows of this département, chunk by chunk."""
    dropped: dict[str, int] = {}
    first = True
    for rows in row_sets:
        sampler = str(rows["sampler"].iloc[0])
        dropped[sampler] = 0
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows.iloc[start:start + CHUNK_ROWS].merge(attributes, on="point_id", how="left")
            chunk = compute_features(chunk, reference)  # the history-free columns are shared
            chunk["year"] = chunk["event_time"].dt.year
            chunk["history_cutoff"] = reference_cutoff
            _insert(con, "silver.features_reference", chunk, select, first)

            asof = point_in_time.asof(chunk["event_time"].to_numpy(dtype="datetime64[ns]"))
            covered = point_in_time.covered_years(asof) > 0
            # boolean indexing already copies the rows; a deep .copy() re-consolidated every block
            # (~8 % of the features stage at demo scale 200)
            timely = chunk[covered].copy(deep=False)
            density, nearest = history_features(timely, point_in_time)
            timely["accident_density_5km"], timely["nearest_accident_km"] = density, nearest
            timely["history_cutoff"] = asof[covered]
            _insert(con, "silver.features", timely, select, first)
            dropped[sampler] += int((~covered).sum())
            first = False
    return dropped


def build_features(con: duckdb.DuckDBPyConnection, params: FeatureParams | None = None, *, department: str,
                   progress=None) -> FeaturesSummary:
    """Build the silver layer of `department` from bronze.accidents and bronze.roads (module docstring).

    silver.features: each row's history is the `history_lookback_years` before the start of its year
    minus `history_lag_years` (the publication lag predictions will face), never after `history_cutoff`
    (None = no cap). silver.features_reference: every accident but the row's own. `progress(stage,
    seconds)` is called after each stage when given. The exclusion sampler keeps away from accidents
    before `exclusion_before` only (default: 1 January of the last data year, the default test year),
    so the test year's accident places do not leak into training negatives.
    """
    params = params or FeatureParams()
    department = department_profile(department).code
    use_department(con, department)  # silver holds one slice per département
    lap = _Laps(progress)

    accidents = _load_located_accidents(con, department)
    roads = load_roads(con)
    lap("load")
    located = _write_road_points(con, accidents, roads, department, params)
    lap("road_points")
    weather = load_weather_history(con)
    sampled = _sample_rows(located, accidents, weather, params)
    lap("sampling")
    cutoff = pd.Timestamp(params.history_cutoff) if params.history_cutoff is not None else None
    point_in_time, reference = _histories(accidents, sampled.period, cutoff, params)
    dropped = _write_features(con, sampled.row_sets, located.points, point_in_time, reference,
                              pd.Timestamp(sampled.period.end))
    lap("features")
    _write_meta(con, params, department, sampled, cutoff, dropped, weather)
    lap("meta")
    weather_source = "none" if weather is None else con.execute(
        f"SELECT any_value(source) FROM silver.weather_hourly WHERE dep = {DEP}").fetchone()[0]
    return FeaturesSummary(located.n_points, located.n_accident_points,
                           {str(rows["sampler"].iloc[0]): len(rows) for rows in sampled.row_sets},
                           len(sampled.positives), {m["sampler"]: m["n_negatives"] for m in sampled.meta},
                           sampled.period.n_hours, lap.timings, dropped, params.history_lookback_years,
                           weather_source, sampled.without_weather, _lag_years(params))


class _Laps:
    """Seconds per stage since the previous lap into `timings`, reported to `progress(stage, seconds)`."""

    def __init__(self, progress) -> None:
        self.progress, self.timings, self.clock = progress, {}, time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self.clock, 3)
        self.clock = now
        if self.progress:
            self.progress(stage, self.timings[stage])


def _seed(params: FeatureParams) -> int:
    return DEFAULT_SEED if params.seed is None else params.seed


def _lag_years(params: FeatureParams) -> int:
    return params.history_lag_years or 0  # None (auto) is resolved by the use case


def _load_located_accidents(con: duckdb.DuckDBPyConnection, department: str) -> pd.DataFrame:
    """The département's accidents with a place and a time (bronze.accidents)."""
    if not table_exists(con, "bronze.accidents"):
        raise AccidentsError("bronze.accidents does not exist: run `accidents ingest` (or `accidents demo`) first")
    accidents = load_accidents(con, department)
    accidents["event_time"] = pd.to_datetime(accidents["event_time"])
    accidents = accidents.dropna(subset=["lat", "lon", "event_time"]).reset_index(drop=True)
    if accidents.empty:
        raise AccidentsError(f"bronze.accidents holds no located accident for département {department}")
    return accidents


@dataclass(frozen=True)
class _Located:
    points: pd.DataFrame  # silver.road_points
    accident_points: pd.DataFrame  # silver.accident_points: each accident's nearest road point
    n_points: int
    n_accident_points: int


def _write_road_points(con, accidents: pd.DataFrame, roads: pd.DataFrame, department: str,
                       params: FeatureParams) -> _Located:
    """The road points near the roads, each accident snapped to its nearest one: silver.road_points
    and silver.accident_points."""
    points = build_road_points(roads, department=department, grid_step=params.grid_step,
                               buffer_meters=params.buffer_meters)
    points = attach_communes(points, commune_seats(department, accidents))
    accident_points = snap_accidents(accidents, points)
    n_points = _write_frame(con, "silver.road_points", points)
    n_accident_points = _write_frame(con, "silver.accident_points", accident_points)
    return _Located(points, accident_points, n_points, n_accident_points)


@dataclass(frozen=True)
class _Sampled:
    period: Period  # the accidents' whole years
    positives: pd.DataFrame
    row_sets: list[pd.DataFrame]  # one per sampler: positives then its negatives
    meta: list[dict]  # one per sampler: the silver.features_meta row's counts and weights
    zone_end: pd.Timestamp  # the exclusion sampler keeps away from the accidents before it
    without_weather: int  # sampled rows whose hour no station covers


def _sample_rows(located: _Located, accidents: pd.DataFrame, weather, params: FeatureParams) -> _Sampled:
    """The positives and each sampler's negatives, with their weather and the negatives' weight."""
    points, n_points = located.points, located.n_points
    period = sampling.Period.covering_years(accidents["event_time"])
    positives, without_weather = _positives(accidents, located.accident_points, points, weather)
    n_negatives = params.neg_ratio * len(positives)
    row_sets, meta = [], []
    zone_end = pd.Timestamp(params.exclusion_before if params.exclusion_before is not None
                            else f"{accidents['event_time'].max().year}-01-01")
    for sampler in params.samplers:
        negatives = _negatives(sampler, points, accidents, period, n_negatives, zone_end, weather, params)
        if weather is not None:
            without_weather += sampling.weather_at_points(weather, points, negatives["point_id"],
                                                          negatives["event_time"].to_numpy())[1]
        weight = sampling.negative_weight(n_points, period, n_negatives)
        row_sets.append(_sampler_rows(sampler, positives, negatives, weight))
        meta.append({"sampler": sampler, "n_points": n_points, "n_hours": period.n_hours,
                     "n_accidents": len(positives), "n_negatives": n_negatives, "negative_weight": weight,
                     "base_rate": len(positives) / (n_points * period.n_hours)})
    return _Sampled(period, positives, row_sets, meta, zone_end, without_weather)


def _negatives(sampler: str, points, accidents, period, n_negatives: int, zone_end, weather,
               params: FeatureParams) -> pd.DataFrame:
    if sampler == "exclusion":
        return sampling.sample_exclusion(points, accidents, period, n_negatives=n_negatives,
                                         exclusion_km=params.exclusion_km,
                                         temporal_ratio=params.temporal_risk_ratio, seed=_seed(params),
                                         exclusion_accidents=accidents[accidents["event_time"] < zone_end],
                                         weather=weather)
    return sampling.sample_uniform(points, accidents, period, n_negatives=n_negatives, seed=_seed(params),
                                   weather=weather)


def _histories(accidents: pd.DataFrame, period, cutoff, params: FeatureParams):
    """(point-in-time history, leave-one-out reference history) of the accidents."""
    point_in_time = AccidentHistory.point_in_time(accidents, params.history_lookback_years, cap=cutoff,
                                                  data_start=period.start, data_end=period.end,
                                                  lag_years=_lag_years(params))
    return point_in_time, AccidentHistory.reference(accidents)


def _write_meta(con, params: FeatureParams, department: str, sampled: _Sampled, cutoff, dropped: dict[str, int],
                weather) -> None:
    """silver.features_meta: one row per sampler with its counts, period and the parameters used."""
    period, period_end = sampled.period, pd.Timestamp(sampled.period.end)
    recorded = {"samplers": list(params.samplers), "grid_step": params.grid_step,
                "buffer_meters": params.buffer_meters, "accident_exclusion_buffer_km": params.exclusion_km,
                "temporal_risk_ratio": params.temporal_risk_ratio, "n_negative_samples_ratio": params.neg_ratio,
                "history_cutoff": None if cutoff is None else cutoff.isoformat(),
                "exclusion_before": sampled.zone_end.isoformat(),
                "history_lookback_years": params.history_lookback_years, "history_lag_years": _lag_years(params),
                "department": department, "seed": _seed(params),
                "weather": "none" if weather is None else "silver.weather_hourly"}
    meta_frame = pd.DataFrame(sampled.meta).assign(
        period_start=pd.Timestamp(period.start), period_end=period_end,
        history_cutoff=cutoff if cutoff is not None else period_end,
        history_lookback_years=params.history_lookback_years, history_lag_years=_lag_years(params),
        rows_dropped_without_history=[dropped[m["sampler"]] for m in sampled.meta],
        params_json=json.dumps(recorded, sort_keys=True))
    _write_frame(con, "silver.features_meta", meta_frame)

