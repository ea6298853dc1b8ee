"""Data-quality checks. Each check is a small pure function taking a lake connection (tested
directly on crafted tables) wrapped by a thin `@dg.asset_check`."""

import datetime as dt
import json
from typing import TYPE_CHECKING

import dagster as dg

from dagster_accidents.resources import DuckLakeResource
from pipeline.lake import table_exists

if TYPE_CHECKING:
    import duckdb

MAX_REJECTED_SHARE = 0.05
DEFAULT_EXCLUSION_KM = 0.3
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
    import pandas as pd

    from pipeline.departments import DEPARTMENTS

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
        "FROM bronze.ingest_log GROUP BY 1 ORDER BY 1").fetchall()
    return {kind: float(share) for kind, share in rows}


# --- silver -------------------------------------------------------------------------------------
def exclusion_buffer_km(con: "duckdb.DuckDBPyConnection") -> float:
    """The buffer the features were built with (silver.features_meta), else the default."""
    if table_exists(con, "silver.features_meta"):
        row = con.execute("SELECT params_json FROM silver.features_meta LIMIT 1").fetchone()
        if row and row[0]:
            return float(json.loads(row[0]).get("accident_exclusion_buffer_km", DEFAULT_EXCLUSION_KM))
    return DEFAULT_EXCLUSION_KM


def exclusion_negatives_near_accidents(con: "duckdb.DuckDBPyConnection", buffer_km: float) -> int:
    """Road points used as `exclusion` negatives that lie within buffer_km of an accident
    (haversine BallTree over the accidents snapped in silver.accident_points)."""
    from pipeline.spatial import count_within_km, haversine_tree

    points = con.execute(
        "SELECT DISTINCT r.point_id, r.lat, r.lon FROM silver.features f JOIN silver.road_points r USING (point_id) "
        "WHERE f.sampler = 'exclusion' AND f.target = 0").df()
    accidents = con.execute(
        "SELECT a.lat, a.lon FROM bronze.accidents a JOIN silver.accident_points p USING (accident_id) "
        "WHERE a.lat IS NOT NULL AND a.lon IS NOT NULL").df()
    if points.empty or accidents.empty:
        return 0
    tree = haversine_tree(accidents["lat"], accidents["lon"])
    # A hair inside the buffer: a point exactly on it was admissible for the sampler.
    near = count_within_km(tree, points["lat"], points["lon"], buffer_km * (1 - 1e-9))
    return int((near > 0).sum())


def null_feature_counts(con: "duckdb.DuckDBPyConnection") -> dict[str, int]:
    """Feature columns of silver.features that hold NULLs, with how many."""
    from pipeline.features import FEATURE_COLUMNS

    present = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE silver.features)").fetchall()}
    missing = [c for c in FEATURE_COLUMNS if c not in present]
    if missing:
        raise ValueError(f"silver.features lacks feature columns: {', '.join(missing)}")
    sums = ", ".join(f'count(*) - count("{c}")' for c in FEATURE_COLUMNS)
    counts = con.execute(f"SELECT {sums} FROM silver.features").fetchone()
    return {c: int(n) for c, n in zip(FEATURE_COLUMNS, counts, strict=True) if n}


# --- gold ---------------------------------------------------------------------------------------
def model_and_best_baseline(con: "duckdb.DuckDBPyConnection", metric: str = RANKING_METRIC
                            ) -> tuple[float | None, float | None]:
    """(model, best baseline) value of `metric` in the latest gold.evaluation."""
    rows = con.execute(
        "SELECT method, value FROM gold.evaluation WHERE metric = ? AND evaluated_at = "
        "(SELECT max(evaluated_at) FROM gold.evaluation)", [metric]).fetchall()
    values = dict(rows)
    baselines = [v for m, v in values.items() if m.startswith("baseline") and v is not None]
    return values.get("model"), (max(baselines) if baselines else None)


def prediction_rows_by_atm(con: "duckdb.DuckDBPyConnection", day: dt.date) -> tuple[dict[int, int], int]:
    """({atm: rows of the day}, road points): each scenario must have 24 x points rows."""
    rows = con.execute("SELECT atm, count(*) FROM gold.predictions WHERE date = ? GROUP BY 1 ORDER BY 1",
                       [day]).fetchall()
    points = con.execute("SELECT count(*) FROM silver.road_points").fetchone()[0]
    return {int(a): int(n) for a, n in rows}, int(points)


def probabilities_outside_unit(con: "duckdb.DuckDBPyConnection", day: dt.date) -> int:
    return con.execute("SELECT count(*) FROM gold.predictions WHERE date = ? AND "
                       "(probability IS NULL OR NOT probability BETWEEN 0 AND 1)", [day]).fetchone()[0]


def training_daily_mean(con: "duckdb.DuckDBPyConnection") -> float | None:
    """Accidents per day over the training years (gold.temporal_train's years, else all years)."""
    if table_exists(con, "gold.temporal_train"):
        years = [r[0] for r in con.execute("SELECT DISTINCT year FROM gold.temporal_train").fetchall()]
    else:
        years = [r[0] for r in con.execute("SELECT DISTINCT year FROM bronze.accidents").fetchall()]
    if not years:
        return None
    n = con.execute("SELECT count(*) FROM bronze.accidents a JOIN silver.accident_points p USING (accident_id) "
                    "WHERE list_contains(?, year(a.event_time))", [years]).fetchone()[0]
    days = sum((dt.date(y + 1, 1, 1) - dt.date(y, 1, 1)).days for y in years)
    return n / days


def expected_accidents_by_atm(con: "duckdb.DuckDBPyConnection", day: dt.date) -> dict[int, float]:
    rows = con.execute("SELECT atm, sum(probability) FROM gold.predictions WHERE date = ? GROUP BY 1 ORDER BY 1",
                       [day]).fetchall()
    return {int(a): float(s) for a, s in rows}


# --- Dagster wrappers ---------------------------------------------------------------------------
def _missing(con, *tables: str) -> dg.AssetCheckResult | None:
    absent = [t for t in tables if not table_exists(con, t)]
    if absent:
        return dg.AssetCheckResult(passed=False, metadata={"missing_tables": ", ".join(absent)})
    return None


ACCIDENTS = ["bronze", "accidents"]
FEATURES = ["silver", "features"]


@dg.asset_check(asset=ACCIDENTS, description="accident_id is unique in bronze.accidents.")
def unique_accident_ids(lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "bronze.accidents"):
            return missing
        dups = duplicate_accident_ids(con)
    return dg.AssetCheckResult(passed=not dups, metadata={"duplicated_ids": len(dups),
                                                         "examples": ", ".join(dups[:5])})


@dg.asset_check(asset=ACCIDENTS, description="Every located accident lies inside its département's bounds.")
def coordinates_inside_departement(lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "bronze.accidents"):
            return missing
        outside = accidents_outside_bounds(con)
    return dg.AssetCheckResult(passed=outside == 0, metadata={"accidents_outside": outside})


@dg.asset_check(asset=["bronze", "rejected_rows"],
                description=f"Rejected rows stay below {MAX_REJECTED_SHARE:.0%} of in-scope rows of every file kind.")
def rejected_share_below_threshold(lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "bronze.ingest_log"):
            return missing
        shares = rejected_shares(con)
    worst = max(shares.values(), default=0.0)
    return dg.AssetCheckResult(passed=worst < MAX_REJECTED_SHARE,
                               metadata={"worst_share": worst, "threshold": MAX_REJECTED_SHARE,
                                         "shares": dg.MetadataValue.json(shares)})


@dg.asset_check(asset=FEATURES, description="No `exclusion` negative lies within the exclusion buffer "
                                            "(0.3 km by default) of an accident.")
def exclusion_negatives_outside_buffer(lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "silver.features", "silver.road_points", "silver.accident_points"):
            return missing
        buffer_km = exclusion_buffer_km(con)
        near = exclusion_negatives_near_accidents(con, buffer_km)
    return dg.AssetCheckResult(passed=near == 0, metadata={"points_within_buffer": near, "buffer_km": buffer_km})


@dg.asset_check(asset=FEATURES, description="No feature column holds a NULL.")
def no_null_features(lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "silver.features"):
            return missing
        nulls = null_feature_counts(con)
    return dg.AssetCheckResult(passed=not nulls, metadata={"columns_with_nulls": dg.MetadataValue.json(nulls)})


@dg.asset_check(asset=["gold", "evaluation"],
                description=f"Model PAI@5 % >= (1 - {BASELINE_MARGIN:.0%}) x best baseline PAI@5 % on the hold-out year.")
def model_not_below_baselines(lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "gold.evaluation"):
            return missing
        model, baseline = model_and_best_baseline(con)
    if model is None or baseline is None:
        return dg.AssetCheckResult(passed=False, metadata={"error": f"no {RANKING_METRIC} for model and baselines"})
    return dg.AssetCheckResult(passed=model >= (1 - BASELINE_MARGIN) * baseline,
                               metadata={"model_pai_5pct": model, "best_baseline_pai_5pct": baseline,
                                         "margin": BASELINE_MARGIN})


PREDICTIONS = ["gold", "predictions"]


def _day(context: dg.AssetCheckExecutionContext, con) -> dt.date | None:
    """The run's partition day; for a check run on its own, the latest predicted day."""
    if context.has_partition_key:
        return dt.date.fromisoformat(context.partition_key)
    return con.execute("SELECT max(date) FROM gold.predictions").fetchone()[0]


@dg.asset_check(asset=PREDICTIONS,
                description="24 rows per road point for the day, for every weather scenario written.")
def rows_cover_every_point_hour(context: dg.AssetCheckExecutionContext, lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "gold.predictions", "silver.road_points"):
            return missing
        day = _day(context, con)
        by_atm, points = prediction_rows_by_atm(con, day)
    expected = 24 * points
    ok = bool(by_atm) and all(n == expected for n in by_atm.values())
    return dg.AssetCheckResult(passed=ok, metadata={"date": str(day), "expected_rows": expected,
                                                    "rows_by_atm": dg.MetadataValue.json(by_atm)})


@dg.asset_check(asset=PREDICTIONS, description="Every probability is in [0, 1].")
def probabilities_in_unit_interval(context: dg.AssetCheckExecutionContext, lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "gold.predictions"):
            return missing
        bad = probabilities_outside_unit(con, _day(context, con))
    return dg.AssetCheckResult(passed=bad == 0, metadata={"rows_outside": bad})


@dg.asset_check(asset=PREDICTIONS,
                description=f"Expected accidents of the day within {DAILY_BAND[0]}x-{DAILY_BAND[1]}x "
                            "the training years' daily mean for every scenario, and, in normal weather, within "
                            "the band of the same month and weekday of the training years "
                            "(pipeline.prediction_check).")
def expected_daily_accidents_plausible(context: dg.AssetCheckExecutionContext,
                                       lake: DuckLakeResource) -> dg.AssetCheckResult:
    from pipeline.prediction_check import check_day

    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "gold.predictions", "bronze.accidents", "silver.accident_points"):
            return missing
        day = _day(context, con)
        expected = expected_accidents_by_atm(con, day)
        mean = training_daily_mean(con)
        same_day = check_day(con, day, expected[1]) if 1 in expected else None
    low, high = (DAILY_BAND[0] * mean, DAILY_BAND[1] * mean) if mean else (0.0, 0.0)
    ok = bool(expected) and mean is not None and all(low <= v <= high for v in expected.values())
    ok = ok and (same_day is None or same_day.passed)
    return dg.AssetCheckResult(
        passed=ok,
        metadata={"expected_by_atm": dg.MetadataValue.json(expected), "training_daily_mean": mean or 0.0,
                  "band_low": low, "band_high": high,
                  "same_month_weekday": same_day.message() if same_day else "no normal-weather prediction"})


ALL_CHECKS = [
    unique_accident_ids, coordinates_inside_departement, rejected_share_below_threshold,
    exclusion_negatives_outside_buffer, no_null_features, model_not_below_baselines,
    rows_cover_every_point_hour, probabilities_in_unit_interval, expected_daily_accidents_plausible,
]
