"""End-to-end evaluate() on a tiny synthetic lake with a fake model and a fake demo truth."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import connect
from pipeline.core.settings import Settings
from pipeline.evaluation.evaluation import evaluate, format_table, observed_counts, year_hours

POINTS = pd.DataFrame({
    "point_id": [11, 12, 13, 14, 15, 16],
    "lat": [-22.270, -22.272, -22.280, -22.300, -22.100, -21.900],
    "lon": [166.440, 166.442, 166.450, 166.500, 166.300, 165.900],
    "road_type": ["primary", "primary", "secondary", "residential", "trunk", "tertiary"],
    "speed_limit": [50.0, 50.0, 50.0, 30.0, 90.0, 70.0],
    "dist_to_road_m": [1.0] * 6,
    "dist_to_main_city_km": [0.5, 0.6, 1.5, 5.0, 20.0, 60.0], "dep": "988",
    "com": ["98818"] * 6,
})


def _accidents(seed=3):
    """Accidents 2021-2024, mostly at points 11-12 during the morning rush."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in (2021, 2022, 2023, 2024):
        for i in range(24):
            point = int(rng.choice([11, 12, 13, 14, 15, 16], p=[0.45, 0.3, 0.1, 0.05, 0.05, 0.05]))
            day = pd.Timestamp(f"{year}-01-01") + pd.Timedelta(days=int(rng.integers(0, 365)))
            hour = int(rng.choice([7, 8, 17, 3], p=[0.4, 0.3, 0.2, 0.1]))
            rows.append((f"{year}{i:03d}", day + pd.Timedelta(hours=hour, minutes=int(rng.integers(0, 60))), point))
    frame = pd.DataFrame(rows, columns=["accident_id", "event_time", "point_id"])
    located = frame.merge(POINTS[["point_id", "lat", "lon"]], on="point_id")
    return located


class FakeModel:
    """Risk rises with past accident density and in the morning rush; ~24 accidents a year in total."""

    def predict_probability(self, df):
        density = df["accident_density_5km"].to_numpy(float)
        rush = df["is_rush_morning"].to_numpy(float)
        return 2e-5 * (1 + density / 10) * (1 + 4 * rush)


class FakeTruth:
    def __init__(self, accidents):
        self.accidents = accidents

    def expected_counts(self, point_lat, point_lon, hours, atm=None):
        # Truth = the same shape as the generator: per-point weight x hour-of-day weight.
        weight = np.array([0.45, 0.3, 0.1, 0.05, 0.05, 0.05])[: len(point_lat)]
        hour_w = np.where(np.isin(hours.hour, [7, 8]), 7.0, np.where(hours.hour == 17, 4.0, 0.2))
        m = np.outer(weight, hour_w)
        return m * 24 / m.sum()


@pytest.fixture()
def lake(tmp_path):
    con = connect(Settings(data_dir=tmp_path))
    acc = _accidents()
    con.register("acc", acc)
    con.register("pts", POINTS)
    con.execute("CREATE TABLE bronze.accidents AS SELECT accident_id, event_time, lat, lon, 1 AS atm, "
                "year(event_time) AS year, '988' AS dep FROM acc")
    con.execute("CREATE TABLE silver.road_points AS SELECT * FROM pts")
    con.execute("CREATE TABLE silver.accident_points AS SELECT accident_id, point_id, 0.0 AS dist_m, '988' AS dep FROM acc")
    con.unregister("acc")
    con.unregister("pts")
    yield con, acc
    con.close()


def test_evaluate_writes_every_method_and_metric(lake, tmp_path):
    con, acc = lake
    summary = evaluate(con, model=FakeModel(), model_name="fake", sampler="exclusion", test_year=2024,
                       train_years=[2021, 2022], valid_year=2023, truth=FakeTruth(acc),
                       chunk_rows=50_000, figure_dir=tmp_path / "figs")
    assert summary.n_points == 6 and summary.n_hours == 8784
    assert summary.observed_accidents == 24
    rows = con.execute("SELECT method, metric, value FROM gold.evaluation").df()
    assert set(rows["method"]) == {"model", "baseline_history", "baseline_kde", "baseline_shrunk",
                                   "oracle_separable", "oracle"}
    by = rows.pivot(index="metric", columns="method", values="value")
    for metric in ("roc_auc", "pr_auc", "brier", "expected_observed_ratio", "cell_hit_rate_1pct", "cell_pai_5pct",
                   "cell_hit_rate_10pct", "point_hit_rate_5pct", "point_pai_10pct"):
        assert by.loc[metric].notna().all(), metric
    assert by.loc["observed_accidents"].eq(24).all()
    # The oracle and hotspot baselines see the concentration at points 11-12: far better than random.
    assert by.loc["roc_auc", "oracle"] > 0.8
    assert by.loc["cell_pai_10pct", "baseline_history"] > 2
    # history baseline is scaled to the fit years' mean yearly total (24 accidents a year)
    assert by.loc["expected_accidents", "baseline_history"] == pytest.approx(24, rel=1e-3)
    # every method's expected count is also set against the truth's (24 by construction of FakeTruth)
    assert by.loc["truth_expected_accidents"].tolist() == pytest.approx([24.0] * 6)
    # likelihood over every cell-hour, and the expected (noise-free) PAI under the truth, for every method
    assert by.loc["loglik_per_accident"].notna().all() and by.loc["cell_expected_pai_5pct"].notna().all()
    # FakeTruth is point weight x hour of day: the separable oracle is the oracle itself
    assert by.loc["loglik_per_accident", "oracle_separable"] == pytest.approx(by.loc["loglik_per_accident", "oracle"])
    assert by.loc["loglik_per_accident", "oracle"] > by.loc["loglik_per_accident", "baseline_history"]
    # model - best baseline with a day-bootstrap interval around it
    for name in ("loglik_per_accident", "cell_pai_5pct"):
        point = by.loc[f"{name}_minus_best_baseline", "model"]
        assert by.loc[f"{name}_minus_best_baseline_lo", "model"] <= point <= by.loc[f"{name}_minus_best_baseline_hi", "model"]
    assert "day bootstrap" in summary.table
    assert by.loc["expected_truth_ratio", "model"] == pytest.approx(by.loc["expected_accidents", "model"] / 24)
    assert by.loc["cell_pai_5pct_share_of_oracle", "model"] == pytest.approx(
        by.loc["cell_pai_5pct", "model"] / by.loc["cell_pai_5pct", "oracle"])
    cal = con.execute("SELECT method, grouping, count(*) AS n, sum(observed) AS obs FROM gold.calibration "
                      "GROUP BY ALL").df()
    months = cal[(cal["grouping"] == "month")]
    assert set(months["n"]) == {12} and set(months["obs"]) == {24}
    assert set(cal[cal["grouping"] == "hour"]["n"]) == {24}
    assert "oracle" in summary.table and "baseline_kde" in summary.table
    assert all(p.exists() and p.stat().st_size > 0 for p in summary.figures) and len(summary.figures) == 3
    assert {"features_s", "scoring_s", "metrics_s"} <= set(summary.timings)


def test_baselines_fit_every_year_before_the_test_year_whatever_the_model_trained_on(lake):
    con, _ = lake
    summary = evaluate(con, model=FakeModel(), model_name="fake", sampler="uniform", test_year=2024,
                       train_years=[2022], valid_year=2023, chunk_rows=50_000)
    for name in ("baseline_history", "baseline_kde", "baseline_shrunk"):
        assert summary.baseline_params[name]["fit_years"] == [2021, 2022, 2023], name
        assert summary.baseline_params[name]["n_accidents"] == 72, name


def test_rerun_replaces_rows_and_keeps_other_samplers(lake):
    con, _ = lake
    kwargs = dict(model=FakeModel(), model_name="fake", test_year=2024, train_years=[2021, 2022],
                  valid_year=2023, chunk_rows=50_000)
    evaluate(con, sampler="exclusion", **kwargs)
    n_first = con.execute("SELECT count(*) FROM gold.evaluation").fetchone()[0]
    evaluate(con, sampler="exclusion", **kwargs)
    assert con.execute("SELECT count(*) FROM gold.evaluation").fetchone()[0] == n_first
    n_cal = con.execute("SELECT count(*) FROM gold.calibration").fetchone()[0]
    evaluate(con, sampler="uniform", **kwargs)
    per_sampler = dict(con.execute("SELECT sampler, count(*) FROM gold.evaluation GROUP BY 1").fetchall())
    assert per_sampler == {"exclusion": n_first, "uniform": n_first}
    assert con.execute("SELECT count(*) FROM gold.calibration").fetchone()[0] == 2 * n_cal
    assert "oracle" not in set(con.execute("SELECT DISTINCT method FROM gold.evaluation").df()["method"])


def test_evaluate_rejects_a_year_without_data_and_bad_year_order(lake):
    con, _ = lake
    with pytest.raises(AccidentsError, match="test year 2019"):
        evaluate(con, model=FakeModel(), model_name="fake", sampler="exclusion", test_year=2019,
                 train_years=[2016, 2017], valid_year=2018)
    with pytest.raises(AccidentsError, match="precede"):
        evaluate(con, model=FakeModel(), model_name="fake", sampler="exclusion", test_year=2024,
                 train_years=[2021, 2024], valid_year=2023)


def test_observed_counts_truncate_to_the_hour_and_ignore_other_years():
    hours = year_hours(2024)
    assert len(hours) == 8784
    accidents = pd.DataFrame({"point_id": [12, 12, 16, 12],
                              "event_time": pd.to_datetime(["2024-03-01 08:05", "2024-03-01 08:55",
                                                            "2024-12-31 23:59", "2023-03-01 08:00"])})
    counts = observed_counts(POINTS, accidents, hours)
    assert counts.sum() == 3
    assert counts[1, hours.get_loc(pd.Timestamp("2024-03-01 08:00"))] == 2
    assert counts[5, -1] == 1


def test_format_table_skips_missing_values():
    text = format_table({"model": {"roc_auc": 0.7, "pr_auc": float("nan")},
                         "baseline_kde": {"roc_auc": 0.6, "pr_auc": 0.01}})
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["method", "ROC", "AUC"]
    assert lines[2].startswith("model") and "0.700" in lines[2] and "-" in lines[2]
    assert lines[3].startswith("baseline_kde")


def _tiny_lightgbm_bundle(acc, directory):
    """A real RiskModel (LightGBM, 20 trees) trained on case-control rows of the synthetic lake."""
    lgb = pytest.importorskip("lightgbm")
    model_bundle = pytest.importorskip("pipeline.gold.model_bundle")
    from pipeline.core.features import CATEGORICAL, FEATURE_COLUMNS, AccidentHistory, compute_features

    rng = np.random.default_rng(0)
    train = acc[acc["event_time"] < "2023-01-01"]
    positives = train.merge(POINTS.drop(columns=["lat", "lon"]), on="point_id").assign(
        event_time=lambda d: d["event_time"].dt.floor("h"), atm=1, target=1)
    negatives = POINTS.iloc[rng.integers(0, len(POINTS), 400)].reset_index(drop=True).assign(
        event_time=pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 2 * 8760, 400), "h"),
        atm=1, target=0)
    history = AccidentHistory.point_in_time(acc, 3, data_start="2021-01-01", data_end="2025-01-01")
    rows = compute_features(pd.concat([positives, negatives], ignore_index=True), history)
    rows = rows[rows["accident_density_5km"].notna()]  # as silver.features: no 2021 rows (no history)
    model = model_bundle.RiskModel(
        algorithm="lightgbm", booster=None, feature_columns=list(FEATURE_COLUMNS),
        categorical_codes=model_bundle.fit_category_codes(rows, list(CATEGORICAL)),
        negative_weight=len(POINTS) * 2 * 8760 / 400, sampler="uniform", train_years=[2021, 2022])
    matrix = model.native_input(model.encode(rows))
    model.booster = lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "num_threads": 1,
                               "min_data_in_leaf": 5}, lgb.Dataset(matrix, rows["target"].to_numpy()), 20)
    model.save(directory)
    return model_bundle.RiskModel.load(directory)


def test_evaluate_a_real_risk_model_bundle(lake, tmp_path):
    con, acc = lake
    model = _tiny_lightgbm_bundle(acc, tmp_path / "bundle")
    summary = evaluate(con, model=model, model_name="lgbm", sampler="uniform", test_year=2024,
                       train_years=model.train_years, valid_year=2023, chunk_rows=50_000)
    values = summary.metrics["model"]
    assert 0 <= values["roc_auc"] <= 1 and values["expected_accidents"] > 0
    # prior correction turns the case-control odds back into tens of accidents a year, not thousands
    assert 2 < values["expected_accidents"] < 500
    assert con.execute("SELECT count(*) FROM gold.evaluation WHERE model_name = 'lgbm' AND method = 'model'"
                       ).fetchone()[0] == len(values)


class RecordingModel(FakeModel):
    """FakeModel that remembers the history features each road point was scored with."""

    def __init__(self):
        self.seen = {}

    def predict_probability(self, df):
        for lat, group in df.groupby("latitude"):
            self.seen.setdefault(lat, set()).update(
                zip(group["accident_density_5km"].round(9), group["nearest_accident_km"].round(9)))
        return super().predict_probability(df)


@pytest.mark.parametrize("lookback", [3, 1])
def test_test_year_is_scored_with_the_point_in_time_window_before_it(lake, lookback):
    from pipeline.core.spatial import haversine_km

    con, acc = lake
    model = RecordingModel()
    summary = evaluate(con, model=model, model_name="rec", sampler="uniform", test_year=2024,
                       train_years=[2021, 2022], valid_year=2023, chunk_rows=50_000,
                       history_lookback_years=lookback)
    assert summary.baseline_params["history_lookback_years"] == lookback
    window = acc[(acc["event_time"] >= f"{2024 - lookback}-01-01") & (acc["event_time"] < "2024-01-01")]
    for _, point in POINTS.iterrows():
        d = haversine_km(point.lat, point.lon, window["lat"], window["lon"])
        expected = (round(float((d <= 5.0).sum()) / lookback, 9), round(float(d.min()), 9))
        assert model.seen[point.lat] == {expected}  # one history for the whole test year, 2024 never in it


@pytest.mark.slow
def test_log_evaluation_to_mlflow(lake, tmp_path):
    pytest.importorskip("mlflow")
    pytest.importorskip("pipeline.gold.registry")
    import mlflow

    from pipeline.evaluation.evaluation_mlflow import log_evaluation_to_mlflow

    con, _ = lake
    summary = evaluate(con, model=FakeModel(), model_name="fake", sampler="exclusion", test_year=2024,
                       train_years=[2021, 2022], valid_year=2023, chunk_rows=50_000,
                       figure_dir=tmp_path / "figs")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_evaluation_to_mlflow(uri, summary)
    run = mlflow.MlflowClient(uri).get_run(run_id)
    assert run.data.metrics["model.roc_auc"] == pytest.approx(summary.metrics["model"]["roc_auc"])
    assert "baseline_kde.cell_pai_5pct" in run.data.metrics
    artifacts = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run_id, "evaluation")}
    assert len([a for a in artifacts if a.endswith(".png")]) == 3


def test_leakage_note_when_training_history_reaches_past_the_test_start():
    from pipeline.evaluation.evaluation import leakage_notes

    class Trained:
        history_cutoff = "2025-01-01 00:00:00"

    cutoff = pd.Timestamp("2024-01-01")
    assert leakage_notes(Trained(), cutoff, 2024) and "2025-01-01" in leakage_notes(Trained(), cutoff, 2024)[0]
    Trained.history_cutoff = "2024-01-01"
    assert leakage_notes(Trained(), cutoff, 2024) == []
    assert leakage_notes(FakeModel(), cutoff, 2024) == []


@pytest.mark.slow
def test_demo_chain_oracle_is_calibrated_and_ranks_best(tmp_path):
    """Demo files -> bronze -> silver -> evaluate with the generator's truth as the oracle."""
    demo = pytest.importorskip("pipeline.sources.demo.generator")
    from pipeline.sources.demo.model import load_truth
    from pipeline.sources.select import open_source
    from pipeline.silver.features import build_features
    from pipeline.silver.params import FeatureParams
    from pipeline.bronze.ingest import ingest_years
    from pipeline.bronze.roads import build_roads

    assert demo  # the generator is importable
    settings = Settings(data_dir=tmp_path)
    source = open_source("demo", settings, seed=42)
    files, label = source.files_for_years(list(range(2019, 2025))), source.label
    folder = settings.demo_dir / "seed42-scale1"
    con = connect(settings)
    try:
        ingest_years(con, files, source=label)
        build_roads(con, roads_file=folder / "roads.osm", department="988")
        build_features(con, FeatureParams(samplers=("uniform",), history_cutoff=dt.date(2024, 1, 1)), department="988")
        summary = evaluate(con, model=FakeModel(), model_name="fake", sampler="uniform", test_year=2024,
                           train_years=[2019, 2020, 2021, 2022], valid_year=2023, truth=load_truth(folder))
    finally:
        con.close()
    m = summary.metrics
    assert summary.observed_accidents > 100
    assert 0.8 <= m["oracle"]["expected_observed_ratio"] <= 1.2
    assert m["oracle"]["roc_auc"] > max(m["baseline_history"]["roc_auc"], m["baseline_kde"]["roc_auc"])
    assert m["oracle"]["cell_hit_rate_5pct"] >= m["baseline_kde"]["cell_hit_rate_5pct"]
    # both baselines are far better than chance on the demo's spatial structure
    assert m["baseline_kde"]["cell_pai_5pct"] > 2 and m["baseline_history"]["cell_pai_5pct"] > 2
