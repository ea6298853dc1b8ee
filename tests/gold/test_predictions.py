import datetime as dt

import numpy as np
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.gold.predictions import (
    predict_days,
    risk_indexes_and_ranks,
    tomorrow_in,
    validate_atm,
)
from tests.support.predictions import N_POINTS, TRAINING_DAILY_MEAN, CalibratedFakeModel, seeded_lake

MONDAY = dt.date(2026, 3, 2)


@pytest.fixture
def lake(tmp_path):
    """This module's lake holds the fake road points and accidents (tests/gold's lake is empty)."""
    con = seeded_lake(tmp_path / "data")
    yield con
    con.close()


def run(con, dates, atm=1, version="3", **kw):
    return predict_days(
        con, model=CalibratedFakeModel(), model_name="accidents-risk-988", model_version=version,
        dates=dates, atm=atm, **kw,
    )


def test_one_day_writes_24_rows_per_point_with_probabilities_ranks_and_index(lake, fake_features):
    summary = run(lake, [MONDAY])
    assert summary.rows_written == 24 * N_POINTS == summary.n_points * 24
    df = lake.execute("SELECT * FROM gold.predictions").df()
    assert len(df) == 24 * N_POINTS
    assert df.groupby("hour")["point_id"].nunique().eq(N_POINTS).all()
    assert df["probability"].between(0, 1).all()
    assert set(df["date"].dt.date) == {MONDAY} and set(df["atm"]) == {1}
    assert set(df["model_name"]) == {"accidents-risk-988"} and set(df["model_version"]) == {"3"}
    # risk index is relative to the day's mean; rank 1 is the highest probability of its hour
    assert df["risk_index"].mean() == pytest.approx(1.0)
    assert np.allclose(df["risk_index"], df["probability"] / df["probability"].mean())
    for _, hour in df.groupby("hour"):
        assert sorted(hour["rank_in_hour"]) == list(range(1, N_POINTS + 1))
        assert hour.loc[hour["rank_in_hour"].idxmin(), "probability"] == hour["probability"].max()


def test_history_is_built_once_with_windows_ending_at_the_year_start(lake, fake_features):
    summary = run(lake, [MONDAY + dt.timedelta(days=i) for i in range(5)])
    assert len(fake_features.built) == 1
    history = fake_features.built[0]
    # the model's history_cutoff (2025-01-01, latest asof of its training rows) is not a cap
    assert history.cap is None and history.lookback_years == 3
    assert set(history.accidents["accident_id"]) == {"a1", "a2", "a3"}  # the window picks per year
    assert summary.history_cutoff == dt.datetime(2026, 1, 1)
    # data 2023-2025: a 2026 day averages 2023-2025 (3 covered years)
    assert history.real.covered_years(history.asof([np.datetime64("2026-03-02")])).tolist() == [3.0]


def test_explicit_history_cutoff_caps_the_window(lake, fake_features):
    summary = run(lake, [MONDAY], history_cutoff=dt.datetime(2024, 1, 1))
    assert fake_features.built[0].cap == dt.datetime(2024, 1, 1)
    assert summary.history_cutoff == dt.datetime(2024, 1, 1)


def test_lookback_comes_from_the_parameter_or_silver(lake, fake_features):
    run(lake, [MONDAY], history_lookback_years=2)
    assert fake_features.built[-1].lookback_years == 2
    lake.execute("CREATE TABLE silver.features_meta AS SELECT 5 AS history_lookback_years, '988' AS dep")
    run(lake, [MONDAY])
    assert fake_features.built[-1].lookback_years == 5


def test_a_day_without_any_history_year_is_refused(lake, fake_features):
    with pytest.raises(AccidentsError, match="2023-06-01: bronze.accidents has no year of history"):
        run(lake, [dt.date(2023, 6, 1)])


def test_rerun_replaces_exactly_that_date_and_atm(lake, fake_features):
    run(lake, [MONDAY, MONDAY + dt.timedelta(days=1)], version="1")
    run(lake, [MONDAY], atm=2, version="1")
    run(lake, [MONDAY], version="2")
    counts = dict(
        lake.execute(
            "SELECT date::VARCHAR || '/' || atm || '/' || model_version, count(*) FROM gold.predictions GROUP BY 1"
        ).fetchall()
    )
    n = 24 * N_POINTS
    assert counts == {"2026-03-02/1/2": n, "2026-03-03/1/1": n, "2026-03-02/2/1": n}
    run(lake, [MONDAY], version="2")  # idempotent
    assert lake.execute("SELECT count(*) FROM gold.predictions").fetchone()[0] == 3 * n


def test_backfill_matches_day_by_day_scoring(lake, fake_features):
    days = [MONDAY + dt.timedelta(days=i) for i in range(3)]
    batch = run(lake, days)
    q = "SELECT date, hour, point_id, probability, risk_index, rank_in_hour FROM gold.predictions ORDER BY ALL"
    together = lake.execute(q).df()
    for day in days:
        run(lake, [day])
    assert together.equals(lake.execute(q).df())
    assert [d.date for d in batch.days] == days


def test_a_backfill_in_blocks_of_days_writes_what_one_block_writes(lake, fake_features, monkeypatch):
    import pipeline.gold.predictions as predictions

    days = [MONDAY + dt.timedelta(days=i) for i in range(5)]
    q = "SELECT date, hour, point_id, probability, risk_index, rank_in_hour FROM gold.predictions ORDER BY ALL"
    whole = run(lake, days)
    together = lake.execute(q).df()
    monkeypatch.setattr(predictions, "BLOCK_ROWS", 2 * 24 * N_POINTS)  # blocks of 2, 2 and 1 days
    assert [len(b) for b in predictions.day_blocks(days, N_POINTS)] == [2, 2, 1]
    blocked = run(lake, days)
    assert together.equals(lake.execute(q).df())
    assert blocked.rows_written == whole.rows_written == 5 * 24 * N_POINTS
    assert [d.expected_accidents for d in blocked.days] == [d.expected_accidents for d in whole.days]


def test_a_failing_block_leaves_the_previous_predictions(lake, fake_features, monkeypatch):
    import pipeline.gold.predictions as predictions

    days = [MONDAY + dt.timedelta(days=i) for i in range(3)]
    run(lake, days, version="1")
    monkeypatch.setattr(predictions, "BLOCK_ROWS", 24 * N_POINTS)
    scored = predictions.score_days

    def fail_on_the_last_day(model, points, block, atm, history):
        if block[-1] == days[-1]:
            raise AccidentsError("scoring failed")
        return scored(model, points, block, atm, history)

    monkeypatch.setattr(predictions, "score_days", fail_on_the_last_day)
    with pytest.raises(AccidentsError, match="scoring failed"):
        run(lake, days, version="2")
    assert lake.execute("SELECT DISTINCT model_version FROM gold.predictions").fetchall() == [("1",)]
    assert lake.execute("SELECT count(*) FROM gold.predictions").fetchone()[0] == 3 * 24 * N_POINTS


def test_expected_daily_count_is_close_to_the_training_daily_mean(lake, fake_features):
    summary = run(lake, [MONDAY + dt.timedelta(days=i) for i in range(7)])
    mean_daily = np.mean([d.expected_accidents for d in summary.days])
    assert 0.8 * TRAINING_DAILY_MEAN <= mean_daily <= 1.25 * TRAINING_DAILY_MEAN
    weekday, saturday = summary.days[0], summary.days[5]
    assert saturday.expected_accidents == pytest.approx(1.25 * weekday.expected_accidents)
    assert weekday.most_dangerous_hour == 17  # the fake's evening peak


def test_summary_top_points_carry_commune_and_road_type(lake, fake_features):
    day = run(lake, [MONDAY]).days[0]
    assert len(day.top_points) == 10
    expected = [p.expected_accidents for p in day.top_points]
    assert expected == sorted(expected, reverse=True)
    top = lake.execute(
        "SELECT point_id, sum(probability) s FROM gold.predictions GROUP BY 1 ORDER BY s DESC LIMIT 1"
    ).fetchone()
    assert day.top_points[0].point_id == top[0]
    assert all(p.com in {"98818", "98817", "98805"} for p in day.top_points)
    assert all(p.road_type in {"primary", "secondary", "residential"} for p in day.top_points)
    assert day.top_points[0].peak_hour == 17


def test_missing_road_points_is_a_user_error(tmp_path, fake_features):
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings

    con = connect(Settings(data_dir=tmp_path / "empty"))
    with pytest.raises(AccidentsError, match="silver.road_points"):
        run(con, [MONDAY])


@pytest.mark.parametrize("code", [1, 2, 3, 5, 9, "4"])
def test_valid_atm_codes(code):
    assert validate_atm(code) == int(code)


@pytest.mark.parametrize("code", [0, 10, -1, "x", 1.5, None, "2.0"])
def test_unknown_atm_codes_are_rejected(code):
    with pytest.raises(AccidentsError, match="atm"):
        validate_atm(code)


def test_tomorrow_in_noumea_uses_the_island_day():
    # 20:00 UTC on 1 March is 07:00 on 2 March in Nouméa (UTC+11): tomorrow there is 3 March.
    now = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.timezone.utc)
    assert tomorrow_in("Pacific/Noumea", now=now) == dt.date(2026, 3, 3)
    assert tomorrow_in("UTC", now=now) == dt.date(2026, 3, 2)


def test_ranks_break_ties_deterministically():
    proba = np.array([[[0.1, 0.3, 0.3, 0.2]] * 24])
    risk, ranks = risk_indexes_and_ranks(proba)
    assert ranks[0, 0].tolist() == [4, 1, 2, 3]
    assert risk.mean() == pytest.approx(1.0)


def test_days_with_identical_features_are_scored_once(lake, fake_features):
    class CountingModel(CalibratedFakeModel):
        rows_scored = 0

        def predict_probability(self, df):
            CountingModel.rows_scored += len(df)
            return super().predict_probability(df)

    days = [MONDAY + dt.timedelta(days=i) for i in range(14)]  # two weeks of March: 7 distinct days
    summary = predict_days(lake, model=CountingModel(), model_name="m", model_version="1", dates=days)
    assert CountingModel.rows_scored == 7 * 24 * N_POINTS
    assert summary.rows_written == 14 * 24 * N_POINTS
    assert summary.days[0].expected_accidents == summary.days[7].expected_accidents
