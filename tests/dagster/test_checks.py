"""Each check function on crafted bad (and good) tables in a temporary lake, plus the Dagster
wrappers on the same lake."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pytest

from dagster_accidents import checks
from pipeline.usecases import quality
from pipeline.core.features import FEATURE_COLUMNS

DAY = dt.date(2025, 3, 11)
NOUMEA = (-22.2758, 166.4580)


def make_accidents(con, rows):
    """rows: (accident_id, dep, lat, lon, event_time)."""
    con.execute("CREATE OR REPLACE TABLE bronze.accidents (accident_id VARCHAR, dep VARCHAR, lat DOUBLE, "
                "lon DOUBLE, event_time TIMESTAMP)")
    con.executemany("INSERT INTO bronze.accidents VALUES (?, ?, ?, ?, ?)", rows)


# --- bronze -------------------------------------------------------------------------------------
def test_duplicate_ids_and_out_of_bounds_coordinates_are_found(lake_con):
    t = dt.datetime(2023, 5, 1, 8)
    make_accidents(lake_con, [("A1", "988", *NOUMEA, t), ("A1", "988", *NOUMEA, t),
                              ("A2", "988", 48.85, 2.35, t),  # Paris coordinates on a 988 row
                              ("A3", "988", None, None, t), ("A4", "75", 48.85, 2.35, t)])
    assert quality.duplicate_accident_ids(lake_con) == ["A1"]
    assert quality.accidents_outside_bounds(lake_con) == 1
    make_accidents(lake_con, [("A1", "988", *NOUMEA, t), ("A2", "XX", *NOUMEA, t)])  # unknown département
    assert quality.duplicate_accident_ids(lake_con) == []
    assert quality.accidents_outside_bounds(lake_con) == 1


def test_rejected_share_per_file_kind(lake_con):
    lake_con.execute("CREATE TABLE bronze.ingest_log (kind VARCHAR, rows_read BIGINT, rows_rejected BIGINT, "
                     "rows_other_department BIGINT, dep VARCHAR DEFAULT '988')")
    # 10 rejected of 100 in-scope caracteristiques rows (900 rows of other départements do not count).
    lake_con.execute("INSERT INTO bronze.ingest_log VALUES ('caracteristiques', 1000, 10, 900, '988'), "
                     "('lieux', 1000, 0, 900, '988'), ('lieux', 10, 10, 0, '974')")  # another département's
    shares = quality.rejected_shares(lake_con)
    assert shares == {"caracteristiques": pytest.approx(0.10), "lieux": 0.0}
    assert max(shares.values()) >= quality.MAX_REJECTED_SHARE


# --- silver -------------------------------------------------------------------------------------
def make_silver(con, negative_points: list[int]):
    """Point 1 is ~110 m from the only accident, point 2 is ~11 km away; one positive at point 1."""
    con.execute("CREATE OR REPLACE TABLE silver.road_points AS SELECT * FROM (VALUES "
                "(1::BIGINT, -22.2748, 166.4580, '988'), (2::BIGINT, -22.1758, 166.4580, '988')) t(point_id, lat, lon, dep)")
    make_accidents(con, [("A1", "988", *NOUMEA, dt.datetime(2023, 1, 1))])
    con.execute("CREATE OR REPLACE TABLE silver.accident_points AS SELECT 'A1' AS accident_id, 1::BIGINT AS point_id, "
                "'988' AS dep")
    rows = ", ".join(["(1, 1)", *(f"(0, {p})" for p in negative_points)])
    columns = ", ".join(f'1.0::DOUBLE AS "{c}"' for c in FEATURE_COLUMNS if c != "road_type")
    con.execute(f"CREATE OR REPLACE TABLE silver.features AS SELECT 'exclusion' AS sampler, target, "
                f"point_id::BIGINT AS point_id, 'primary' AS road_type, {columns}, '988' AS dep "
                f"FROM (VALUES {rows}) t(target, point_id)")


def test_exclusion_negative_inside_the_buffer_is_found(lake_con):
    make_silver(lake_con, negative_points=[1, 2])
    assert quality.exclusion_negatives_near_accidents(lake_con, 0.3) == 1
    make_silver(lake_con, negative_points=[2])
    assert quality.exclusion_negatives_near_accidents(lake_con, 0.3) == 0
    assert quality.exclusion_negatives_near_accidents(lake_con, 0.05) == 0


def test_exclusion_buffer_comes_from_features_meta(lake_con):
    assert quality.exclusion_buffer_km(lake_con) == 0.3
    lake_con.execute("""CREATE TABLE silver.features_meta AS SELECT '{"accident_exclusion_buffer_km": 0.5}' AS params_json, """
                     "'988' AS dep")
    assert quality.exclusion_buffer_km(lake_con) == 0.5


def test_null_features_are_counted(lake_con):
    make_silver(lake_con, negative_points=[2])
    assert quality.null_feature_counts(lake_con) == {}
    lake_con.execute("UPDATE silver.features SET hour = NULL, speed_limit = NULL WHERE target = 0")
    assert quality.null_feature_counts(lake_con) == {"hour": 1, "speed_limit": 1}


# --- gold ---------------------------------------------------------------------------------------
def make_evaluation(con, rows):
    con.execute("CREATE OR REPLACE TABLE gold.evaluation (evaluated_at TIMESTAMP, method VARCHAR, metric VARCHAR, "
                "value DOUBLE, dep VARCHAR DEFAULT '988')")
    con.executemany("INSERT INTO gold.evaluation (evaluated_at, method, metric, value) VALUES (?, ?, ?, ?)", rows)


def test_model_far_below_baseline_is_reported_from_the_latest_evaluation(lake_con):
    old, new = dt.datetime(2025, 1, 1), dt.datetime(2025, 2, 1)
    make_evaluation(lake_con, [
        (old, "model", "cell_pai_5pct", 9.0), (old, "baseline_kde", "cell_pai_5pct", 1.0),
        (new, "model", "cell_pai_5pct", 2.0), (new, "baseline_history", "cell_pai_5pct", 3.0),
        (new, "baseline_kde", "cell_pai_5pct", 4.0), (new, "oracle", "cell_pai_5pct", 10.0),
        (new, "model", "pr_auc", 0.5),
    ])
    model, baseline = quality.model_and_best_baseline(lake_con)
    assert (model, baseline) == (2.0, 4.0)  # the oracle is not a baseline
    assert model < (1 - quality.BASELINE_MARGIN) * baseline


def make_predictions(con, n_points: int, hours: int, probability: float):
    con.execute("CREATE OR REPLACE TABLE silver.road_points AS SELECT range::BIGINT AS point_id, '988' AS dep FROM range(?)",
                [n_points])
    con.execute("CREATE OR REPLACE TABLE gold.predictions AS SELECT ?::DATE AS date, h.range::INTEGER AS hour, "
                "p.range::BIGINT AS point_id, 1 AS atm, -ln(1 - ?::DOUBLE) AS expected_accidents, "
                "?::DOUBLE AS probability, '988' AS dep FROM range(?) h, range(?) p",
                [DAY, probability, probability, hours, n_points])


def test_prediction_rows_must_cover_24_hours_of_every_point(lake_con):
    make_predictions(lake_con, n_points=5, hours=23, probability=0.01)
    by_atm, points = quality.prediction_rows_by_atm(lake_con, DAY)
    assert by_atm == {1: 115} and points == 5 and by_atm[1] != 24 * points
    make_predictions(lake_con, n_points=5, hours=24, probability=0.01)
    assert quality.prediction_rows_by_atm(lake_con, DAY) == ({1: 120}, 5)
    assert quality.prediction_rows_by_atm(lake_con, DAY + dt.timedelta(days=1)) == ({}, 5)


def test_probabilities_outside_zero_one_are_found(lake_con):
    make_predictions(lake_con, n_points=2, hours=24, probability=0.5)
    assert quality.probabilities_outside_unit(lake_con, DAY) == 0
    lake_con.execute("UPDATE gold.predictions SET probability = 1.5 WHERE hour = 3")
    lake_con.execute("UPDATE gold.predictions SET probability = NULL WHERE hour = 4")
    assert quality.probabilities_outside_unit(lake_con, DAY) == 4


def test_expected_daily_accidents_against_the_training_daily_mean(lake_con):
    # 730 accidents over 2021 + 2022 (730 days): one a day.
    lake_con.execute("CREATE TABLE bronze.accidents AS SELECT 'A' || range AS accident_id, "
                     "TIMESTAMP '2021-01-01' + INTERVAL (range) DAY AS event_time, year(event_time) AS year, "
                     "'988' AS dep FROM range(730)")
    lake_con.execute("CREATE TABLE silver.accident_points AS SELECT accident_id, dep FROM bronze.accidents")
    assert quality.training_daily_mean(lake_con) == pytest.approx(1.0)  # every year of the lake trains the champion
    make_predictions(lake_con, n_points=100, hours=24, probability=0.05)  # 123 expected accidents
    expected = quality.expected_accidents_by_atm(lake_con, DAY)
    assert expected == {1: pytest.approx(-2400 * np.log(0.95))}  # the expected counts, not the probabilities
    assert expected[1] > quality.DAILY_BAND[1] * 1.0


# --- the Dagster wrappers -----------------------------------------------------------------------
def test_wrappers_fail_on_bad_tables_and_pass_on_good_ones(lake_resource, lake_con):
    t = dt.datetime(2023, 5, 1, 8)
    make_accidents(lake_con, [("A1", "988", *NOUMEA, t), ("A1", "988", 48.85, 2.35, t)])
    unique = checks.unique_accident_ids(lake=lake_resource)
    inside = checks.coordinates_inside_departement(lake=lake_resource)
    assert not unique.passed and unique.metadata["duplicated_ids"].value == 1
    assert not inside.passed
    make_accidents(lake_con, [("A1", "988", *NOUMEA, t)])
    assert checks.unique_accident_ids(lake=lake_resource).passed
    assert checks.coordinates_inside_departement(lake=lake_resource).passed
    missing = checks.no_null_features(dg.build_asset_check_context(), lake=lake_resource)
    assert not missing.passed and "silver.features" in missing.metadata["missing_tables"].value


def test_prediction_wrappers_read_the_partition_day(lake_resource, lake_con):
    make_predictions(lake_con, n_points=3, hours=23, probability=0.2)
    context = dg.build_asset_check_context()
    result = checks.rows_cover_every_point_hour(context, lake=lake_resource)  # no partition: latest day
    assert not result.passed and result.metadata["expected_rows"].value == 72
    assert result.metadata["date"].value == DAY.isoformat()
    assert not checks.expected_daily_accidents_plausible(context, lake=lake_resource).passed
