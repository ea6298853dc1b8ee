"""predict_days with a real intensity model (a PoissonGLM fitted on a synthetic world whose intensity is
known): gold.predictions (expected accidents, probability, risk index, rank) and gold.prediction_totals
(day, commune and hotspot totals with 90 % intervals and reasons)."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import table_exists
from pipeline.core.weather import WeatherHistory
from pipeline.gold.intensity.cells import year_hours
from pipeline.gold.intensity.grid import ScoringGrid
from pipeline.gold.predictions import day_hours, predict_days, risk_indexes_and_ranks
from pipeline.gold.scenarios import FORECAST, tomorrow_in, validate_atm
from tests.support.intensity import COMMUNES, DAILY_ACCIDENTS, N_POINTS, WEEKEND, fitted_world, write_world

MONDAY = dt.date(2026, 3, 2)  # no public holiday in New Caledonia that week
WEEK = [MONDAY + dt.timedelta(days=i) for i in range(7)]
ROWS_PER_DAY = 24 * N_POINTS
TOP = 10


@pytest.fixture(scope="module")
def world():
    return fitted_world()[0]


@pytest.fixture(scope="module")
def model():
    return fitted_world()[1]


@pytest.fixture
def lake(tmp_path, world):
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings

    con = connect(Settings(data_dir=tmp_path / "data"))
    write_world(con, world)
    yield con
    con.close()


def run(con, model, dates, atm=1, version="3", **kw):
    return predict_days(con, model=model, model_name="accidents-risk-988", model_version=version, dates=dates,
                        atm=atm, **kw)


def predictions(con, where="TRUE") -> pd.DataFrame:
    return con.execute(f"SELECT * FROM gold.predictions WHERE {where} ORDER BY date, hour, point_id").df()


def test_one_day_writes_24_rows_per_point_with_the_models_expected_counts(lake, model, world):
    summary = run(lake, model, [MONDAY])
    assert summary.rows_written == ROWS_PER_DAY == summary.n_points * 24
    assert summary.model_kind == "Poisson GLM" and summary.train_years == (2022, 2023, 2024)
    df = predictions(lake)
    assert len(df) == ROWS_PER_DAY and df.groupby("hour")["point_id"].nunique().eq(N_POINTS).all()
    assert set(df["date"].dt.date) == {MONDAY} and set(df["atm"]) == {1}
    assert set(df["model_name"]) == {"accidents-risk-988"} and set(df["model_version"]) == {"3"}
    assert set(df["model_kind"]) == {"Poisson GLM"}
    # the rows hold the model's own expected counts of every point-hour
    grid = ScoringGrid(world.points, day_hours([MONDAY]), 1, "988")
    expected = model.expected_counts(grid)  # (points, hours)
    table = df.pivot(index="point_id", columns="hour", values="expected_accidents").loc[world.points["point_id"]]
    np.testing.assert_allclose(table.to_numpy(), expected, rtol=1e-12)
    # probability of at least one accident, the risk index over the day's mean, the rank in the hour
    np.testing.assert_allclose(df["probability"], -np.expm1(-df["expected_accidents"]), rtol=1e-12)
    assert df["risk_index"].mean() == pytest.approx(1.0)
    np.testing.assert_allclose(df["risk_index"], df["expected_accidents"] / df["expected_accidents"].mean())
    for _, hour in df.groupby("hour"):
        assert sorted(hour["rank_in_hour"]) == list(range(1, N_POINTS + 1))
        assert hour.loc[hour["rank_in_hour"].idxmin(), "expected_accidents"] == hour["expected_accidents"].max()
    assert summary.days[0].expected_accidents == pytest.approx(df["expected_accidents"].sum())


def test_a_week_matches_the_known_intensity_of_the_world(lake, model, world):
    """The GLM learnt the world's level, weekend factor and evening peak from three years of accidents."""
    summary = run(lake, model, WEEK)
    truth = world.expected(day_hours(WEEK)).reshape(N_POINTS, 7, 24).sum(axis=(0, 2))
    got = np.array([d.expected_accidents for d in summary.days])
    assert got.sum() == pytest.approx(truth.sum(), rel=0.10)
    assert truth.sum() == pytest.approx(DAILY_ACCIDENTS * (5 + 2 * WEEKEND))
    assert got[5:].mean() / got[:5].mean() == pytest.approx(WEEKEND, abs=0.15)
    assert all(d.most_dangerous_hour in (16, 17, 18) for d in summary.days)  # the world's 17:00 peak
    # a heavy-rain scenario raises every point-hour (rain effects are monotone), by about the world's 2.2
    rain = run(lake, model, WEEK, atm=3)
    normal = predictions(lake, "atm = 1")["expected_accidents"].to_numpy()
    heavy = predictions(lake, "atm = 3")["expected_accidents"].to_numpy()
    assert (heavy >= normal).all()
    assert sum(d.expected_accidents for d in rain.days) / got.sum() == pytest.approx(2.2, rel=0.2)


def test_totals_give_the_day_each_commune_and_ten_hotspots_with_intervals_and_reasons(lake, model, world):
    day = run(lake, model, [MONDAY]).days[0]
    totals = lake.execute("SELECT * FROM gold.prediction_totals ORDER BY scope, rank, key").df()
    assert set(totals["date"].dt.date) == {MONDAY} and set(totals["atm"]) == {1}
    assert set(totals["model_kind"]) == {"Poisson GLM"} and set(totals["model_version"]) == {"3"}
    assert totals.groupby("scope").size().to_dict() == {"day": 1, "commune": len(COMMUNES), "hotspot": TOP}
    assert (totals["low"] <= totals["expected"]).all() and (totals["expected"] <= totals["high"]).all()
    assert (totals["low"] > 0).all() and (totals["count_low"] <= totals["count_high"]).all()
    rows = predictions(lake)
    day_row = totals[totals["scope"] == "day"].iloc[0]
    assert day_row["key"] == "" and day_row["expected"] == pytest.approx(rows["expected_accidents"].sum())
    assert day_row["peak_hour"] == day.most_dangerous_hour
    # the 90 % interval of a day's count spans at least its Poisson noise
    assert day_row["count_low"] <= np.floor(day_row["expected"]) and day_row["count_high"] >= np.ceil(day_row["expected"])
    communes = totals[totals["scope"] == "commune"].set_index("key")["expected"]
    by_commune = rows.merge(world.points[["point_id", "com"]]).groupby("com")["expected_accidents"].sum()
    assert set(communes.index) == set(COMMUNES)
    np.testing.assert_allclose(communes.sort_index(), by_commune.sort_index(), rtol=1e-9)
    assert communes.sum() == pytest.approx(day_row["expected"])
    hotspots = totals[totals["scope"] == "hotspot"].sort_values("rank")
    per_point = rows.groupby("point_id")["expected_accidents"].sum().sort_values(ascending=False, kind="stable")
    assert hotspots["rank"].tolist() == list(range(1, TOP + 1))
    assert hotspots["key"].tolist() == [str(p) for p in per_point.index[:TOP]]
    np.testing.assert_allclose(hotspots["expected"], per_point.iloc[:TOP], rtol=1e-9)
    peaks = rows.loc[rows.groupby("point_id")["expected_accidents"].idxmax()].set_index("point_id")["hour"]
    assert hotspots["peak_hour"].tolist() == [peaks[int(k)] for k in hotspots["key"]]
    for text in hotspots["reasons"]:
        reasons = json.loads(text)
        assert reasons and all({"factor", "detail", "ratio"} <= set(r) and r["ratio"] >= 1.1 for r in reasons)
    # the summary says the same, with the road attributes of each hotspot
    assert [p.point_id for p in day.top_points] == [int(k) for k in hotspots["key"]]
    assert all(p.com in COMMUNES and p.road_type and p.reasons for p in day.top_points)
    assert day.top_points[0].interval.low <= day.top_points[0].expected_accidents <= day.top_points[0].interval.high


def test_rerun_replaces_exactly_that_date_and_scenario(lake, model):
    run(lake, model, [MONDAY, MONDAY + dt.timedelta(days=1)], version="1")
    run(lake, model, [MONDAY], atm=2, version="1")
    run(lake, model, [MONDAY], version="2")
    query = ("SELECT date::VARCHAR || '/' || atm || '/' || model_version, count(*) FROM gold.{} GROUP BY 1")
    counts = dict(lake.execute(query.format("predictions")).fetchall())
    assert counts == {"2026-03-02/1/2": ROWS_PER_DAY, "2026-03-03/1/1": ROWS_PER_DAY, "2026-03-02/2/1": ROWS_PER_DAY}
    per_day = 1 + len(COMMUNES) + TOP
    assert dict(lake.execute(query.format("prediction_totals")).fetchall()) == {
        "2026-03-02/1/2": per_day, "2026-03-03/1/1": per_day, "2026-03-02/2/1": per_day}
    run(lake, model, [MONDAY], version="2")  # idempotent
    assert lake.execute("SELECT count(*) FROM gold.predictions").fetchone()[0] == 3 * ROWS_PER_DAY
    assert lake.execute("SELECT count(*) FROM gold.prediction_totals").fetchone()[0] == 3 * per_day


COLUMNS = "date, hour, point_id, expected_accidents, probability, risk_index, rank_in_hour"
TOTALS = "date, scope, key, rank, expected, low, high, count_low, count_high, peak_hour, reasons"


def test_backfill_matches_day_by_day_scoring(lake, model):
    days = WEEK[:3]
    batch = run(lake, model, days)
    together = lake.execute(f"SELECT {COLUMNS} FROM gold.predictions ORDER BY ALL").df()
    totals = lake.execute(f"SELECT {TOTALS} FROM gold.prediction_totals ORDER BY ALL").df()
    for day in days:
        run(lake, model, [day])
    pd.testing.assert_frame_equal(together, lake.execute(f"SELECT {COLUMNS} FROM gold.predictions ORDER BY ALL").df())
    pd.testing.assert_frame_equal(totals, lake.execute(f"SELECT {TOTALS} FROM gold.prediction_totals ORDER BY ALL").df(),
                                  rtol=1e-9)
    assert [d.date for d in batch.days] == days


def test_a_backfill_in_blocks_of_days_writes_what_one_block_writes(lake, model, monkeypatch):
    import pipeline.gold.predictions as predictions_module

    days = WEEK[:5]
    whole = run(lake, model, days)
    together = lake.execute(f"SELECT {COLUMNS} FROM gold.predictions ORDER BY ALL").df()
    totals = lake.execute(f"SELECT {TOTALS} FROM gold.prediction_totals ORDER BY ALL").df()
    monkeypatch.setattr(predictions_module, "BLOCK_ROWS", 2 * ROWS_PER_DAY)  # blocks of 2, 2 and 1 days
    assert [len(b) for b in predictions_module.day_blocks(days, N_POINTS)] == [2, 2, 1]
    blocked = run(lake, model, days)
    pd.testing.assert_frame_equal(together, lake.execute(f"SELECT {COLUMNS} FROM gold.predictions ORDER BY ALL").df())
    pd.testing.assert_frame_equal(totals, lake.execute(f"SELECT {TOTALS} FROM gold.prediction_totals ORDER BY ALL").df(),
                                  rtol=1e-9)
    assert blocked.rows_written == whole.rows_written == 5 * ROWS_PER_DAY
    assert [d.expected_accidents for d in blocked.days] == pytest.approx([d.expected_accidents for d in whole.days])


def test_a_failing_block_leaves_the_previous_rows(lake, model, monkeypatch):
    import pipeline.gold.predictions as predictions_module

    days = WEEK[:3]
    run(lake, model, days, version="1")
    monkeypatch.setattr(predictions_module, "BLOCK_ROWS", ROWS_PER_DAY)  # one block per day
    real_totals = predictions_module.day_totals

    def fail_on_the_last_day(model_, grid, expected, block):
        if block[-1] == days[-1]:  # after this block's predictions were inserted
            raise AccidentsError("totals failed")
        return real_totals(model_, grid, expected, block)

    monkeypatch.setattr(predictions_module, "day_totals", fail_on_the_last_day)
    with pytest.raises(AccidentsError, match="totals failed"):
        run(lake, model, days, version="2")
    for table, n in (("predictions", 3 * ROWS_PER_DAY), ("prediction_totals", 3 * (1 + len(COMMUNES) + TOP))):
        assert lake.execute(f"SELECT DISTINCT model_version FROM gold.{table}").fetchall() == [("1",)]
        assert lake.execute(f"SELECT count(*) FROM gold.{table}").fetchone()[0] == n


def test_a_scenario_the_model_never_saw_is_refused_in_one_line(lake, model):
    assert 5 not in model.weather_codes  # the world's station never recorded fog
    with pytest.raises(AccidentsError) as err:
        run(lake, model, [MONDAY], atm=5)
    message = str(err.value)
    assert message.startswith("atm=5 (Brouillard - fumée): the model never saw this weather") and "\n" not in message
    assert "[2022, 2023, 2024]" in message and "1 (Normale)" in message
    assert not table_exists(lake, "gold.predictions")


def forecast(day: dt.date, codes: dict[int, int]) -> WeatherHistory:
    """One station's hourly forecast of `day`: `codes` {hour: atm}, normal weather otherwise."""
    hours = pd.date_range(pd.Timestamp(day), periods=24, freq="h")
    return WeatherHistory.from_frame(pd.DataFrame({"station_id": "F1", "lat": -22.0, "lon": 166.0, "hour": hours,
                                                   "atm": [codes.get(h, 1) for h in range(24)]}))


def test_forecast_codes_never_seen_are_scored_as_normal_weather_and_counted(lake, model):
    summary = run(lake, model, [MONDAY], atm=FORECAST, weather=forecast(MONDAY, {4: 5, 14: 3, 15: 3}))
    assert summary.atm == FORECAST and summary.remapped_point_hours == N_POINTS  # the fog hour at every point
    run(lake, model, [MONDAY], atm=1)
    run(lake, model, [MONDAY], atm=3)
    by = {atm: predictions(lake, f"atm = {atm}").set_index(["hour", "point_id"])["expected_accidents"]
          for atm in (FORECAST, 1, 3)}
    hour = by[FORECAST].index.get_level_values("hour")
    rain = np.isin(hour, (14, 15))
    np.testing.assert_allclose(by[FORECAST][rain], by[3][rain], rtol=1e-12)
    np.testing.assert_allclose(by[FORECAST][~rain], by[1][~rain], rtol=1e-12)  # fog at 04:00 scored as normal
    assert (by[3][rain] > by[1][rain]).all()
    with pytest.raises(AccidentsError, match="the forecast does not cover every hour"):
        run(lake, model, [MONDAY, MONDAY + dt.timedelta(days=1)], atm=FORECAST, weather=forecast(MONDAY, {}))


def test_the_hotspot_map_publishes_through_the_same_path(lake, world):
    """The champion may be the map: its rows are labelled with its kind and a rain scenario changes nothing."""
    from pipeline.gold.intensity.hotspot import HotspotMap

    inputs = world.inputs()
    hotspot = HotspotMap.fit(world.points, world.accidents, world.years, crs=inputs.crs, weather_codes=(1, 2, 3),
                             year_counts=inputs.year_counts(world.years))
    week = run(lake, hotspot, WEEK)
    day = week.days[0]
    run(lake, hotspot, [MONDAY], atm=3)
    # a day holds a day's share of the map's yearly count (its weekly profile), not the whole year
    yearly = float(hotspot.point_yearly.sum())
    assert sum(d.expected_accidents for d in week.days) == pytest.approx(yearly * 7 / 365.25, rel=0.02)
    year = hotspot.expected_counts(ScoringGrid(world.points, year_hours([2025]), 1, "988"))
    assert year.sum() == pytest.approx(yearly, rel=1e-9)
    assert set(predictions(lake)["model_kind"]) == {"hotspot map"}
    np.testing.assert_array_equal(predictions(lake, f"atm = 1 AND date = '{MONDAY}'")["expected_accidents"],
                                  predictions(lake, "atm = 3")["expected_accidents"])
    assert day.interval.low <= day.expected_accidents <= day.interval.high
    assert all(r["factor"] == "past accidents" for p in day.top_points for r in p.reasons)


def test_missing_road_points_is_a_user_error(tmp_path, model):
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings

    con = connect(Settings(data_dir=tmp_path / "empty"))
    with pytest.raises(AccidentsError, match="silver.road_points"):
        run(con, model, [MONDAY])
    con.close()


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
    expected = np.array([[[0.1, 0.3, 0.3, 0.2]] * 24])
    risk, ranks = risk_indexes_and_ranks(expected)
    assert ranks[0, 0].tolist() == [4, 1, 2, 3]
    assert risk.mean() == pytest.approx(1.0)
