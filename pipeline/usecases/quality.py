"""Data-quality rules of the lake: pure queries on a lake connection, each returning what it found.

Orchestrators (Dagster asset checks) and tests call them; the thresholds are product rules, so they
live here and nowhere else.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.core.departments import DEPARTMENTS
from pipeline.core.features import FEATURE_COLUMNS
from pipeline.core.lake import DEP, table_exists
from pipeline.core.spatial import count_within_km, haversine_tree
from pipeline.gold.prediction_check import check_normal_day
from pipeline.silver.params import FeatureParams

if TYPE_CHECKING:
    import duckdb

MAX_REJECTED_SHARE = 0.05
DEFAULT_EXCLUSION_KM = FeatureParams.exclusion_km  # the features' own default
BASELINE_MARGIN = 0.20  # the model's PAI@5 % may trail the best baseline by at most 20 %
RANKING_METRIC = "cell_pai_5pct"
DAILY_BAND = (0.2, 5.0)  # expected accidents of a day vs the training years' daily mean


# --- bronze -------------------------------------------------------------------------------------
def duplicate_accident_ids(con: "duckdb.DuckDBPyConnection") -> list[str]:
    """accident_ids present more than once in bronze.accidents (at most 20 shown)."""
    rows = con.execute("SELECT accident_id FROM bronze.accidents GROUP BY 1 HAVING count(*) > 1 "
                       "ORDER BY 1 LIMIT 20").fetchall()
    return [r[0] for r in rows]


def accidents_outside_bounds(con: "duckdb.DuckDBPyConnection") -> int:
    """Located accidents outside their département's bounding box (or of an unknown département)."""
    bounds = pd.DataFrame([(d.code, d.lat_min, d.lat_max, d.lon_min, d.lon_max) for d in DEPARTMENTS.values()],
                          columns=["dep", "lat_min", "lat_max", "lon_min", "lon_max"])
    con.register("_department_bounds", bounds)
    try:
        return con.execute(
            "SELECT count(*) FROM bronze.accidents a LEFT JOIN _department_bounds b ON a.dep = b.dep "
            "WHERE a.lat IS NOT NULL AND a.lon IS NOT NULL AND (b.dep IS NULL "
            "OR a.lat NOT BETWEEN b.lat_min AND b.lat_max OR a.lon NOT BETWEEN b.lon_min AND b.lon_max)"
        ).fetchone()[0]
    finally:
        con.unregister("_department_bounds")


def rejected_shares(con: "duckdb.DuckDBPyConnection") -> dict[str, float]:
    """Per file kind: rejected rows / in-scope rows read (other départements are not counted)."""
    rows = con.execute(
        "SELECT kind, sum(rows_rejected) / greatest(sum(rows_read - rows_other_department), 1) "
        f"FROM bronze.ingest_log WHERE dep = {DEP} GROUP BY 1 ORDER BY 1").fetchall()
    return {kind: float(share) for kind, share in rows}


# --- silver -------------------------------------------------------------------------------------
def _features_params(con: "duckdb.DuckDBPyConnection") -> dict:
    if table_exists(con, "silver.features_meta"):
        row = con.execute(f"SELECT params_json FROM silver.features_meta WHERE dep = {DEP} LIMIT 1").fetchone()
        if row and row[0]:
            return json.loads(row[0])
    return {}


def exclusion_buffer_km(con: "duckdb.DuckDBPyConnection") -> float:
    """The buffer the features were built with (silver.features_meta), else the default."""
    return float(_features_params(con).get("accident_exclusion_buffer_km", DEFAULT_EXCLUSION_KM))


def exclusion_negatives_near_accidents(con: "duckdb.DuckDBPyConnection", buffer_km: float) -> int:
    """Road points used as `exclusion` negatives that lie within buffer_km of an accident the sampler
    kept away from: those before the recorded `exclusion_before` (the test year's accidents are not
    known at training time), all of them for tables built before that rule."""
    points = con.execute(
        "SELECT DISTINCT r.point_id, r.lat, r.lon FROM silver.features f JOIN silver.road_points r USING (point_id, dep) "
        f"WHERE f.sampler = 'exclusion' AND f.target = 0 AND f.dep = {DEP}").df()
    before = _features_params(con).get("exclusion_before") or "9999-01-01"
    accidents = con.execute(
        "SELECT a.lat, a.lon FROM bronze.accidents a JOIN silver.accident_points p USING (accident_id, dep) "
        f"WHERE a.lat IS NOT NULL AND a.lon IS NOT NULL AND a.event_time < ?::TIMESTAMP AND a.dep = {DEP}",
        [before]).df()
    if points.empty or accidents.empty:
        return 0
    tree = haversine_tree(accidents["lat"], accidents["lon"])
    # A hair inside the buffer: a point exactly on it was admissible for the sampler.
    near = count_within_km(tree, points["lat"], points["lon"], buffer_km * (1 - 1e-9))
    return int((near > 0).sum())


def null_feature_counts(con: "duckdb.DuckDBPyConnection") -> dict[str, int]:
    """Feature columns of silver.features that hold NULLs, with how many."""
    present = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE silver.features)").fetchall()}
    missing = [c for c in FEATURE_COLUMNS if c not in present]
    if missing:
        raise ValueError(f"silver.features lacks feature columns: {', '.join(missing)}")
    sums = ", ".join(f'count(*) - count("{c}")' for c in FEATURE_COLUMNS)
    counts = con.execute(f"SELECT {sums} FROM silver.features WHERE dep = {DEP}").fetchone()
    return {c: int(n) for c, n in zip(FEATURE_COLUMNS, counts, strict=True) if n}


# --- gold ---------------------------------------------------------------------------------------
def model_and_best_baseline(con: "duckdb.DuckDBPyConnection", metric: str = RANKING_METRIC
                            ) -> tuple[float | None, float | None]:
    """(model, best baseline) value of `metric` in the latest gold.evaluation."""
    rows = con.execute(
        f"SELECT method, value FROM gold.evaluation WHERE metric = ? AND dep = {DEP} AND evaluated_at = "
        f"(SELECT max(evaluated_at) FROM gold.evaluation WHERE dep = {DEP})", [metric]).fetchall()
    values = dict(rows)
    baselines = [v for m, v in values.items() if m.startswith("baseline") and v is not None]
    return values.get("model"), (max(baselines) if baselines else None)


def prediction_rows_by_atm(con: "duckdb.DuckDBPyConnection", day: dt.date) -> tuple[dict[int, int], int]:
    """({atm: rows of the day}, road points): each scenario must have 24 x points rows."""
    rows = con.execute(f"SELECT atm, count(*) FROM gold.predictions WHERE date = ? AND dep = {DEP} "
                       "GROUP BY 1 ORDER BY 1", [day]).fetchall()
    points = con.execute(f"SELECT count(*) FROM silver.road_points WHERE dep = {DEP}").fetchone()[0]
    return {int(a): int(n) for a, n in rows}, int(points)


def probabilities_outside_unit(con: "duckdb.DuckDBPyConnection", day: dt.date) -> int:
    return con.execute(f"SELECT count(*) FROM gold.predictions WHERE date = ? AND dep = {DEP} AND "
                       "(probability IS NULL OR NOT probability BETWEEN 0 AND 1)", [day]).fetchone()[0]


def training_daily_mean(con: "duckdb.DuckDBPyConnection") -> float | None:
    """Accidents per day over the training years (every year of bronze.accidents: the champion learns
    from all of them)."""
    years = [r[0] for r in con.execute(f"SELECT DISTINCT year FROM bronze.accidents WHERE dep = {DEP}").fetchall()]
    if not years:
        return None
    n = con.execute("SELECT count(*) FROM bronze.accidents a JOIN silver.accident_points p USING (accident_id, dep) "
                    f"WHERE list_contains(?, year(a.event_time)) AND a.dep = {DEP}", [years]).fetchone()[0]
    days = sum((dt.date(y + 1, 1, 1) - dt.date(y, 1, 1)).days for y in years)
    return n / days


def expected_accidents_by_atm(con: "duckdb.DuckDBPyConnection", day: dt.date) -> dict[int, float]:
    rows = con.execute(f"SELECT atm, sum(coalesce(expected_accidents, probability)) FROM gold.predictions "
                       f"WHERE date = ? AND dep = {DEP} GROUP BY 1 ORDER BY 1", [day]).fetchall()
    return {int(a): float(s) for a, s in rows}




@dataclass(frozen=True)
class DayPlausibility:
    """A predicted day's expected accidents per weather scenario against the training years: within
    DAILY_BAND of their daily mean, and (normal weather, not a holiday) against the same month and
    weekday (`pipeline.gold.prediction_check`)."""

    expected_by_atm: dict[int, float]
    training_daily_mean: float | None
    same_month_weekday: str

    passed: bool = False

    @property
    def band(self) -> tuple[float, float]:
        mean = self.training_daily_mean
        return (DAILY_BAND[0] * mean, DAILY_BAND[1] * mean) if mean else (0.0, 0.0)


def day_plausibility(con: "duckdb.DuckDBPyConnection", day: dt.date, dep: str) -> DayPlausibility:
    expected = expected_accidents_by_atm(con, day)
    mean = training_daily_mean(con)
    same_day = check_normal_day(con, day, expected[1], dep) if 1 in expected else None
    result = DayPlausibility(expected, mean, same_day.message() if same_day else "not judged (no normal-weather "
                             "prediction, or a public holiday)")
    low, high = result.band
    passed = bool(expected) and mean is not None and all(low <= v <= high for v in expected.values())
    return replace(result, passed=passed and (same_day is None or same_day.passed))
