"""Predictions with the real feature code and a real (synthetic-data) LightGBM RiskModel bundle."""

import datetime as dt

import numpy as np
import pytest

features = pytest.importorskip("pipeline.core.features")
if not hasattr(features, "compute_features"):
    pytest.skip("pipeline.core.features.compute_features not available yet", allow_module_level=True)
pytest.importorskip("lightgbm")

from pipeline.core.lake import connect  # noqa: E402
from pipeline.gold.model_bundle import RiskModel  # noqa: E402
from pipeline.core.settings import Settings  # noqa: E402
from pipeline.gold.predictions import predict_days  # noqa: E402
from tests.support.synthetic_model import (  # noqa: E402
    synthetic_accidents,
    synthetic_points,
    train_synthetic_model,
)


def test_real_features_and_bundle_round_trip(tmp_path):
    points = synthetic_points(120)
    accidents = synthetic_accidents(points, n=200)
    model = train_synthetic_model(points, accidents, n_rows=4000, daily_accidents=0.8)
    model = RiskModel.load(model.save(tmp_path / "bundle"))  # score with the stored form, as in production
    con = connect(Settings(data_dir=tmp_path / "data"))
    con.register("_pts", points)
    con.execute("CREATE TABLE silver.road_points AS SELECT * FROM _pts")
    con.register("_acc", accidents)
    con.execute("CREATE TABLE bronze.accidents AS SELECT * FROM _acc")
    days = [dt.date(2026, 3, 2), dt.date(2026, 3, 7)]  # a Monday and a Saturday
    summary = predict_days(con, model=model, model_name="accidents-risk-988", model_version="1", dates=days, atm=3)
    df = con.execute("SELECT * FROM gold.predictions").df()
    con.close()
    assert len(df) == 2 * 24 * 120 and summary.rows_written == len(df)
    assert df["probability"].between(0, 1).all() and df["probability"].std() > 0
    # the data end (the lake's newest year is 2023), not the 2026 year start nor the model's cutoff
    assert summary.history_cutoff == dt.datetime(2024, 1, 1)
    assert summary.history_years == (2021, 2022, 2023) and summary.newest_data_year == 2023
    # calibrated to ~0.8 accidents/day under normal weather; heavy rain (atm=3) raises it
    for day in summary.days:
        assert 0.3 < day.expected_accidents < 5.0
    evening = df[df["hour"].between(17, 19)]["probability"].mean()
    night = df[df["hour"].between(1, 4)]["probability"].mean()
    assert evening > night
    assert np.isclose(df.groupby("date")["risk_index"].mean(), 1.0).all()


def test_two_years_after_the_data_predicts_like_one_year_after(tmp_path):
    """Newest data year 2023: a Monday of March 2025 and a Monday of March 2024 (no holiday), normal
    weather, get the same expected count: both see the newest three published years."""
    points = synthetic_points(120)
    accidents = synthetic_accidents(points, n=300)
    model = train_synthetic_model(points, accidents, n_rows=4000, daily_accidents=0.8)
    con = connect(Settings(data_dir=tmp_path / "data"))
    con.register("_pts", points)
    con.execute("CREATE TABLE silver.road_points AS SELECT * FROM _pts")
    con.register("_acc", accidents)
    con.execute("CREATE TABLE bronze.accidents AS SELECT * FROM _acc")
    one, two = (predict_days(con, model=model, model_name="m", model_version="1", dates=[day], atm=1)
                for day in (dt.date(2024, 3, 4), dt.date(2025, 3, 3)))
    con.close()
    assert one.history_years == two.history_years == (2021, 2022, 2023)
    assert two.days[0].expected_accidents == pytest.approx(one.days[0].expected_accidents, rel=0.05)
