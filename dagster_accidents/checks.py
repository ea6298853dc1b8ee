"""Asset checks: thin Dagster wrappers around the lake's quality rules (pipeline.usecases.quality).
Checks whose failure makes what follows wrong are blocking: downstream assets do not run, and a
failed prediction check fails its run (no critical-zones alert; the failure alert carries the
check's one-line description)."""

import datetime as dt
import warnings

import dagster as dg

from dagster_accidents.metadata import rounded
from dagster_accidents.partitions import DAY, dep_prediction_days, dimension
from dagster_accidents.resources import DuckLakeResource
from pipeline.core.lake import DEP, table_exists
from pipeline.usecases.quality import (
    BASELINE_MARGIN,
    DAILY_BAND,
    MAX_REJECTED_SHARE,
    RANKING_METRIC,
    accidents_outside_bounds,
    day_plausibility,
    duplicate_accident_ids,
    exclusion_buffer_km,
    exclusion_negatives_near_accidents,
    model_and_best_baseline,
    null_feature_counts,
    prediction_rows_by_atm,
    probabilities_outside_unit,
    rejected_shares,
)


# --- Dagster wrappers ---------------------------------------------------------------------------
def _missing(con, *tables: str) -> dg.AssetCheckResult | None:
    absent = [t for t in tables if not table_exists(con, t)]
    if absent:
        return dg.AssetCheckResult(passed=False, metadata={"missing_tables": ", ".join(absent)})
    return None


def _dep(context: dg.AssetCheckExecutionContext, lake: DuckLakeResource) -> str:
    """The département of the run's partition ("988", "988|2024", "2025-03-11|988"); for a check run
    on its own, the first configured one."""
    if not context.has_partition_key:
        return lake.department
    return next(part for part in str(context.partition_key).split("|") if part in lake.departments)


ACCIDENTS = ["bronze", "accidents"]
FEATURES = ["silver", "features"]


@dg.asset_check(asset=ACCIDENTS, blocking=True, description="accident_id is unique in bronze.accidents.")
def unique_accident_ids(lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "bronze.accidents"):
            return missing
        dups = duplicate_accident_ids(con)
    return dg.AssetCheckResult(passed=not dups, metadata={"duplicated_ids": len(dups),
                                                         "examples": ", ".join(dups[:5])})


@dg.asset_check(asset=ACCIDENTS, blocking=True,
                description="Every located accident lies inside its département's bounds.")
def coordinates_inside_departement(lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True) as con:
        if missing := _missing(con, "bronze.accidents"):
            return missing
        outside = accidents_outside_bounds(con)
    return dg.AssetCheckResult(passed=outside == 0, metadata={"accidents_outside": outside})


@dg.asset_check(asset=["bronze", "rejected_rows"],
                description=f"Rejected rows stay below {MAX_REJECTED_SHARE:.0%} of in-scope rows of every file kind.")
def rejected_share_below_threshold(context: dg.AssetCheckExecutionContext, lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True, dep=_dep(context, lake)) as con:
        if missing := _missing(con, "bronze.ingest_log"):
            return missing
        shares = rejected_shares(con)
    worst = max(shares.values(), default=0.0)
    return dg.AssetCheckResult(passed=worst < MAX_REJECTED_SHARE,
                               metadata={"worst_share": rounded(worst), "threshold": MAX_REJECTED_SHARE,
                                         "shares": dg.MetadataValue.json({k: rounded(v) for k, v in shares.items()})})


@dg.asset_check(asset=FEATURES, blocking=True,
                description="No `exclusion` negative lies within the exclusion buffer of an accident.")
def exclusion_negatives_outside_buffer(context: dg.AssetCheckExecutionContext, lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True, dep=_dep(context, lake)) as con:
        if missing := _missing(con, "silver.features", "silver.road_points", "silver.accident_points"):
            return missing
        buffer_km = exclusion_buffer_km(con)
        near = exclusion_negatives_near_accidents(con, buffer_km)
    return dg.AssetCheckResult(passed=near == 0, metadata={"points_within_buffer": near, "buffer_km": buffer_km})


@dg.asset_check(asset=FEATURES, blocking=True, description="No feature column holds a NULL.")
def no_null_features(context: dg.AssetCheckExecutionContext, lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True, dep=_dep(context, lake)) as con:
        if missing := _missing(con, "silver.features"):
            return missing
        nulls = null_feature_counts(con)
    return dg.AssetCheckResult(passed=not nulls, metadata={"columns_with_nulls": dg.MetadataValue.json(nulls)})


@dg.asset_check(asset=["gold", "evaluation"],
                description=f"Model PAI@5 % >= (1 - {BASELINE_MARGIN:.0%}) x best baseline PAI@5 % on the hold-out year.")
def model_not_below_baselines(context: dg.AssetCheckExecutionContext, lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True, dep=_dep(context, lake)) as con:
        if missing := _missing(con, "gold.evaluation"):
            return missing
        model, baseline = model_and_best_baseline(con)
    if model is None or baseline is None:
        return dg.AssetCheckResult(passed=False, metadata={"error": f"no {RANKING_METRIC} for model and baselines"})
    return dg.AssetCheckResult(passed=model >= (1 - BASELINE_MARGIN) * baseline,
                               metadata={"model_pai_5pct": rounded(model), "best_baseline_pai_5pct": rounded(baseline),
                                         "margin": BASELINE_MARGIN})


PREDICTIONS = ["gold", "predictions"]
# The prediction checks are blocking and partitioned like the asset: a failed one fails the run (so
# the critical-zones alert is not sent and the failure alert is), and the UI shows which
# (département, day) it judged. Partitioned checks are a preview feature of Dagster 1.13.
def _prediction_check(*, description: str):
    def decorate(fn):
        with warnings.catch_warnings():  # its behaviour is pinned by tests/serving/test_notify.py
            warnings.simplefilter("ignore", category=dg.PreviewWarning)
            return dg.asset_check(asset=PREDICTIONS, blocking=True, partitions_def=dep_prediction_days,
                                  description=description)(fn)
    return decorate


def _day(context: dg.AssetCheckExecutionContext, con) -> dt.date | None:
    """The run's partition day; for a check run on its own, the département's latest predicted day."""
    if context.has_partition_key:
        return dt.date.fromisoformat(dimension(dep_prediction_days, context.partition_key, DAY))
    return con.execute(f"SELECT max(date) FROM gold.predictions WHERE dep = {DEP}").fetchone()[0]


@_prediction_check(description="24 rows per road point for the day, for every weather scenario written.")
def rows_cover_every_point_hour(context: dg.AssetCheckExecutionContext, lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True, dep=_dep(context, lake)) as con:
        if missing := _missing(con, "gold.predictions", "silver.road_points"):
            return missing
        day = _day(context, con)
        by_atm, points = prediction_rows_by_atm(con, day)
    expected = 24 * points
    ok = bool(by_atm) and all(n == expected for n in by_atm.values())
    wrong = {atm: n for atm, n in by_atm.items() if n != expected}
    cause = (f"{day}: no prediction rows" if not by_atm else
             f"{day}: " + ", ".join(f"atm {a} has {n} rows" for a, n in wrong.items())
             + f" instead of {expected} (24 x {points} road points)")
    return dg.AssetCheckResult(passed=ok, description=None if ok else cause,
                               metadata={"date": str(day), "expected_rows": expected,
                                         "rows_by_atm": dg.MetadataValue.json(by_atm)})


@_prediction_check(description="Every probability is in [0, 1].")
def probabilities_in_unit_interval(context: dg.AssetCheckExecutionContext, lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True, dep=_dep(context, lake)) as con:
        if missing := _missing(con, "gold.predictions"):
            return missing
        day = _day(context, con)
        bad = probabilities_outside_unit(con, day)
    return dg.AssetCheckResult(passed=bad == 0, metadata={"rows_outside": bad},
                               description=f"{day}: {bad} probabilities are NULL or outside [0, 1]" if bad else None)


@_prediction_check(description=f"Expected accidents of the day within {DAILY_BAND[0]}x-{DAILY_BAND[1]}x "
                               "the training years' daily mean for every scenario, and, in normal weather, within "
                               "the band of the same month and weekday of the training years "
                               "(pipeline.gold.prediction_check).")
def expected_daily_accidents_plausible(context: dg.AssetCheckExecutionContext,
                                       lake: DuckLakeResource) -> dg.AssetCheckResult:
    with lake.connect(read_only=True, dep=_dep(context, lake)) as con:
        if missing := _missing(con, "gold.predictions", "bronze.accidents", "silver.accident_points"):
            return missing
        day = _day(context, con)
        verdict = day_plausibility(con, day, _dep(context, lake))
    low, high = verdict.band
    expected = ", ".join(f"atm {a}: {v:.2f}" for a, v in verdict.expected_by_atm.items()) or "none"
    cause = (f"{day}: expected accidents {expected} against a band of {low:.2f}-{high:.2f} "
             f"(training daily mean {verdict.training_daily_mean or 0:.2f}); same month and weekday: "
             f"{verdict.same_month_weekday}")
    return dg.AssetCheckResult(
        passed=verdict.passed, description=None if verdict.passed else cause,
        metadata={"expected_by_atm": dg.MetadataValue.json({a: rounded(v) for a, v in verdict.expected_by_atm.items()}),
                  "training_daily_mean": rounded(verdict.training_daily_mean or 0.0), "band_low": rounded(low),
                  "band_high": rounded(high), "same_month_weekday": verdict.same_month_weekday})


ALL_CHECKS = [
    unique_accident_ids, coordinates_inside_departement, rejected_share_below_threshold,
    exclusion_negatives_outside_buffer, no_null_features, model_not_below_baselines,
    rows_cover_every_point_hour, probabilities_in_unit_interval, expected_daily_accidents_plausible,
]
