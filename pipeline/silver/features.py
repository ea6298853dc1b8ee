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
Every table is replaced atomically; the two feature tables in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pipeline.core.errors import AccidentsError
from pipeline.core.features import CATEGORICAL, FEATURE_COLUMNS, ROAD_POINT_ATTRIBUTES
from pipeline.core.lake import replace_table, table_exists, transaction
from pipeline.silver.params import FeatureParams

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

DEFAULT_SEED = 42
CHUNK_ROWS = 2_000_000  # feature rows computed and inserted per batch (bounds peak memory)
_INTEGER_FEATURES = {"hour", "dayofweek", "month", "atm", "is_weekend",
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

    @property
    def point_in_time_rows(self) -> dict[str, int]:
        """Rows per sampler in silver.features (silver.features_reference holds rows_by_sampler)."""
        return {s: n - self.dropped_without_history.get(s, 0) for s, n in self.rows_by_sampler.items()}


def load_road_points(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """silver.road_points ordered by point_id (the prediction units of evaluation and predictions)."""
    if not table_exists(con, "silver.road_points"):
        raise AccidentsError("silver.road_points does not exist: run `accidents features` first")
    points = con.execute("SELECT * FROM silver.road_points ORDER BY point_id").df()
    if points.empty:
        raise AccidentsError("silver.road_points is empty: run `accidents features` first")
    missing = [c for c in ROAD_POINT_ATTRIBUTES if c not in points.columns]
    if missing:
        raise AccidentsError(f"silver.road_points lacks {', '.join(missing)} (built by an older version): "
                             "run `accidents features` again")
    return points


def _write_frame(con, qualified: str, frame: pd.DataFrame) -> int:
    con.register("silver_frame", frame)
    try:
        return replace_table(con, qualified, "SELECT * FROM silver_frame")
    finally:
        con.unregister("silver_frame")


def _positives(accidents: pd.DataFrame, accident_points: pd.DataFrame) -> pd.DataFrame:
    """One row per located accident on its road point, hour-truncated, with a weather code."""
    from pipeline.silver.sampling import atm_distribution

    positives = accident_points[["accident_id", "point_id"]].merge(
        accidents[["accident_id", "event_time", "atm"]].astype({"accident_id": str}), on="accident_id")
    positives = positives.dropna(subset=["event_time"]).sort_values("accident_id", kind="stable")
    codes, probs = atm_distribution(accidents["atm"])
    positives["atm"] = positives["atm"].fillna(codes[np.argmax(probs)]).astype(np.int64)  # unknown -> mode
    positives["event_time"] = positives["event_time"].astype("datetime64[ns]").dt.floor("h")
    return positives.reset_index(drop=True)


def _sampler_rows(sampler: str, positives, negatives, weight: float) -> pd.DataFrame:
    import pandas as pd

    negatives = negatives.assign(accident_id=None)
    rows = pd.concat([positives.assign(target=1, sampling_weight=1.0),
                      negatives.assign(target=0, sampling_weight=weight)], ignore_index=True)
    rows.insert(0, "sampler", sampler)
    rows.insert(1, "row_id", np.arange(len(rows), dtype=np.int64))
    return rows


def _insert(con, table: str, frame: pd.DataFrame, select: str, first: bool) -> None:
    con.register("features_chunk", frame)
    try:
        verb = f"CREATE OR REPLACE TABLE {table} AS" if first else f"INSERT INTO {table}"
        con.execute(f"{verb} SELECT {select} FROM features_chunk")
    finally:
        con.unregister("features_chunk")


def _write_features(con, row_sets: list[pd.DataFrame], points, point_in_time, reference,
                    reference_cutoff) -> dict[str, int]:
    """Compute features batch by batch and write silver.features and silver.features_reference in one
    transaction. Returns the rows per sampler dropped from silver.features (no covered history)."""
    from pipeline.core.features import compute_features, history_features

    select = ", ".join([f'"{c}"::{t} AS "{c}"' for c, t in {**ROW_COLUMNS, **FEATURE_TYPES}.items()]
                       + ['"history_cutoff"::TIMESTAMP AS "history_cutoff"'])
    attributes = points[ROAD_POINT_ATTRIBUTES]
    dropped: dict[str, int] = {}
    with transaction(con):
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
                timely = chunk[covered].copy()
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

    silver.features: each row's history is the `history_lookback_years` before its year start, never
    after `history_cutoff` (None = no cap). silver.features_reference: every accident but the row's
    own. `progress(stage, seconds)` is called after each stage when given.
    """
    import pandas as pd

    from pipeline.silver import sampling
    from pipeline.core.features import AccidentHistory
    from pipeline.silver.road_points import attach_communes, build_road_points, snap_accidents
    from pipeline.bronze.roads import load_accidents, load_roads

    from pipeline.core.departments import department as department_profile

    params = params or FeatureParams()
    department = department_profile(department).code
    samplers, grid_step, buffer_meters = params.samplers, params.grid_step, params.buffer_meters
    accident_exclusion_buffer_km, temporal_risk_ratio = params.exclusion_km, params.temporal_risk_ratio
    n_negative_samples_ratio, history_lookback_years = params.neg_ratio, params.history_lookback_years
    history_cutoff, seed = params.history_cutoff, DEFAULT_SEED if params.seed is None else params.seed
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now
        if progress:
            progress(stage, timings[stage])

    if not table_exists(con, "bronze.accidents"):
        raise AccidentsError("bronze.accidents does not exist: run `accidents ingest` (or `accidents demo`) first")
    accidents = load_accidents(con, department)
    accidents["event_time"] = pd.to_datetime(accidents["event_time"])
    accidents = accidents.dropna(subset=["lat", "lon", "event_time"]).reset_index(drop=True)
    if accidents.empty:
        raise AccidentsError(f"bronze.accidents holds no located accident for département {department}")
    roads = load_roads(con)
    lap("load")

    points = build_road_points(roads, department=department, grid_step=grid_step, buffer_meters=buffer_meters)
    accident_points = snap_accidents(accidents, points)
    points = attach_communes(points, accidents, accident_points)
    n_points = _write_frame(con, "silver.road_points", points)
    n_accident_points = _write_frame(con, "silver.accident_points", accident_points)
    lap("road_points")

    period = sampling.Period.covering_years(accidents["event_time"])
    positives = _positives(accidents, accident_points)
    n_negatives = n_negative_samples_ratio * len(positives)
    row_sets, meta = [], []
    for sampler in samplers:
        if sampler == "exclusion":
            negatives = sampling.sample_exclusion(points, accidents, period, n_negatives=n_negatives,
                                                  exclusion_km=accident_exclusion_buffer_km,
                                                  temporal_ratio=temporal_risk_ratio, seed=seed)
        else:
            negatives = sampling.sample_uniform(points, accidents, period, n_negatives=n_negatives, seed=seed)
        weight = sampling.negative_weight(n_points, period, n_negatives)
        row_sets.append(_sampler_rows(sampler, positives, negatives, weight))
        meta.append({"sampler": sampler, "n_points": n_points, "n_hours": period.n_hours,
                     "n_accidents": len(positives), "n_negatives": n_negatives, "negative_weight": weight,
                     "base_rate": len(positives) / (n_points * period.n_hours)})
    lap("sampling")

    cutoff = pd.Timestamp(history_cutoff) if history_cutoff is not None else None
    point_in_time = AccidentHistory.point_in_time(accidents, history_lookback_years, cap=cutoff,
                                                  data_start=period.start, data_end=period.end)
    reference = AccidentHistory.reference(accidents)
    period_end = pd.Timestamp(period.end)
    dropped = _write_features(con, row_sets, points, point_in_time, reference, period_end)
    counts = {str(rows["sampler"].iloc[0]): len(rows) for rows in row_sets}
    lap("features")

    params = {"samplers": list(samplers), "grid_step": grid_step, "buffer_meters": buffer_meters,
              "accident_exclusion_buffer_km": accident_exclusion_buffer_km,
              "temporal_risk_ratio": temporal_risk_ratio, "n_negative_samples_ratio": n_negative_samples_ratio,
              "history_cutoff": None if cutoff is None else cutoff.isoformat(),
              "history_lookback_years": history_lookback_years, "department": department, "seed": seed}
    meta_frame = pd.DataFrame(meta).assign(
        period_start=pd.Timestamp(period.start), period_end=period_end,
        history_cutoff=cutoff if cutoff is not None else period_end,
        history_lookback_years=history_lookback_years,
        rows_dropped_without_history=[dropped[m["sampler"]] for m in meta],
        params_json=json.dumps(params, sort_keys=True))
    _write_frame(con, "silver.features_meta", meta_frame)
    lap("meta")
    return FeaturesSummary(n_points, n_accident_points, counts, len(positives),
                           {m["sampler"]: m["n_negatives"] for m in meta}, period.n_hours, timings,
                           dropped, history_lookback_years)


def recorded_lookback_years(con: duckdb.DuckDBPyConnection, default: int = 3) -> int:
    """The history lookback silver.features was built with (what trained models saw), else `default`."""
    if not table_exists(con, "silver.features_meta"):
        return default
    columns = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE silver.features_meta)").fetchall()}
    if "history_lookback_years" not in columns:
        return default
    row = con.execute("SELECT max(history_lookback_years) FROM silver.features_meta").fetchone()
    return int(row[0]) if row and row[0] is not None else default


def load_scoring_history(con: duckdb.DuckDBPyConnection, lookback_years: int, cap=None):
    """Point-in-time history over bronze.accidents for scoring (evaluation, predictions): the same
    windows and data period as silver.features, so scored rows see what training rows saw."""
    import pandas as pd

    from pipeline.core.features import AccidentHistory

    if not table_exists(con, "bronze.accidents"):
        raise AccidentsError("bronze.accidents does not exist: history features need it (run `accidents ingest`)")
    accidents = con.execute(
        "SELECT accident_id, lat, lon, event_time FROM bronze.accidents WHERE event_time IS NOT NULL").df()
    if accidents.empty:
        raise AccidentsError("bronze.accidents holds no dated accident: history features need the data period")
    years = pd.to_datetime(accidents["event_time"]).dt.year
    return AccidentHistory.point_in_time(
        accidents, lookback_years, cap=cap,
        data_start=pd.Timestamp(year=int(years.min()), month=1, day=1),
        data_end=pd.Timestamp(year=int(years.max()) + 1, month=1, day=1))


def scoring_lookback_years(con: duckdb.DuckDBPyConnection, model, explicit: int | None = None) -> int:
    """Lookback for scoring: explicit value, else the model's, else the one silver.features was built
    with (models saved before the bundle recorded it), else 3."""
    if explicit is not None:
        return int(explicit)
    stored = getattr(model, "history_lookback_years", None)
    return int(stored) if stored is not None else recorded_lookback_years(con)
