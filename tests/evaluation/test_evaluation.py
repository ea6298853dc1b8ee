"""The backtest `evaluate(con, Backtest(...))` on a synthetic world whose intensity is known (its truth is
the oracle), and on the demo chain."""


import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import connect
from pipeline.core.settings import Settings
from pipeline.evaluation.evaluation import Backtest, evaluate
from pipeline.evaluation.report import format_table
from pipeline.gold.intensity.cells import observed_counts, year_hours
from tests.support.intensity import WorldTruth, synthetic_world, write_world

YEARS = (2021, 2022, 2023, 2024)
CANDIDATES = ("hotspot", "glm", "lightgbm", "blend")
BASELINES = ("baseline_history", "baseline_kde", "baseline_shrunk")
ORACLES = ("oracle_separable", "oracle_weather_blind", "oracle")


@pytest.fixture(scope="module")
def world():
    return synthetic_world(years=YEARS)


@pytest.fixture
def lake(tmp_path, world):
    con = connect(Settings(data_dir=tmp_path / "data"))
    write_world(con, world)
    yield con
    con.close()


def backtest(test_year=2024, lag=0, candidates=("hotspot", "glm"), **kw) -> Backtest:
    return Backtest(test_year=test_year, lag=lag, candidates=candidates, trials=1, threads=1,
                    bootstrap_replicates=200, **kw)


@pytest.mark.slow  # one competition of four candidates and eleven methods over a year of point-hours (~15 s)
def test_the_backtest_writes_every_method_and_metric(lake, world, tmp_path):
    summary = evaluate(lake, backtest(candidates=CANDIDATES), truth=WorldTruth(world), figure_dir=tmp_path / "figs")
    test_accidents = int((world.accidents["year"] == 2024).sum())
    assert (summary.n_points, summary.n_hours, summary.observed_accidents) == (40, 8784, test_accidents)
    assert (summary.data_end, summary.lag, summary.model_name) == (2023, 0, "backtest-lag0")
    assert summary.champion in CANDIDATES and summary.champion_kind
    assert summary.baseline_params["fit_years"] == [2021, 2022]  # the candidates compete on 2023
    assert set(summary.validation) == set(CANDIDATES)
    rows = lake.execute("SELECT * FROM gold.evaluation").df()
    assert len(rows) == summary.rows_written
    assert set(rows["model_name"]) == {"backtest-lag0"} and set(rows["champion"]) == {summary.champion}
    assert set(rows["test_year"]) == {2024} and set(rows["data_end"]) == {2023} and set(rows["lag"]) == {0}
    methods = {"model", *(f"candidate_{c}" for c in CANDIDATES), *BASELINES, *ORACLES}
    assert set(rows["method"]) == methods
    by = rows.pivot(index="metric", columns="method", values="value")
    for metric in ("loglik_per_accident", "roc_auc", "pr_auc", "brier", "expected_accidents", "expected_observed_ratio",
                   "cell_hit_rate_1pct", "cell_pai_5pct", "cell_hit_rate_10pct", "point_hit_rate_5pct",
                   "point_pai_10pct", "cell_expected_pai_5pct", "truth_expected_accidents", "expected_truth_ratio"):
        assert by.loc[metric].notna().all(), metric
    assert by.loc["observed_accidents"].eq(test_accidents).all()
    # the champion is its candidate refitted up to 2023; the shrunk baseline is the hotspot candidate
    assert by.loc["loglik_per_accident", "model"] == by.loc["loglik_per_accident", f"candidate_{summary.champion}"]
    assert by.loc["loglik_per_accident", "baseline_shrunk"] == by.loc["loglik_per_accident", "candidate_hotspot"]
    # the truth ranks best and is calibrated; the GLM, which sees the road features, beats the raw counts
    loglik = by.loc["loglik_per_accident"]
    assert loglik["oracle"] == loglik.max()
    assert loglik["candidate_glm"] > max(loglik["baseline_history"], loglik["baseline_kde"])
    assert 0.9 <= by.loc["expected_observed_ratio", "oracle"] <= 1.1
    truth_total = WorldTruth(world).expected_counts(world.points["lat"], world.points["lon"], year_hours([2024])).sum()
    assert by.loc["truth_expected_accidents", "model"] == pytest.approx(truth_total, rel=1e-5)
    assert by.loc["expected_truth_ratio", "model"] == pytest.approx(by.loc["expected_accidents", "model"] / truth_total)
    assert by.loc["cell_pai_5pct_share_of_oracle", "model"] == pytest.approx(
        by.loc["cell_pai_5pct", "model"] / by.loc["cell_pai_5pct", "oracle"])
    # model - best baseline with a day-bootstrap interval around it
    for name in ("loglik_per_accident", "cell_pai_5pct"):
        point = by.loc[f"{name}_minus_best_baseline", "model"]
        assert by.loc[f"{name}_minus_best_baseline_lo", "model"] <= point <= by.loc[f"{name}_minus_best_baseline_hi", "model"]
    # the champion's 90 % daily intervals, against the observed days and the truth's
    assert by.loc["interval_level", "model"] == 0.9
    assert 0.8 <= by.loc["count_interval_coverage", "model"] <= 1.0
    assert 0.0 <= by.loc["expected_interval_coverage_truth", "model"] <= 1.0
    # rain and day ratios against the truth: the GLM's rain effects are monotone and near the world's
    assert by.loc["rain_lowers_share", "candidate_glm"] == 0.0
    assert by.loc["rain_light_ratio_all_truth", "candidate_glm"] == pytest.approx(1.5)
    assert by.loc["rain_heavy_ratio_all_truth", "candidate_glm"] == pytest.approx(2.2)
    assert by.loc["rain_heavy_ratio_all", "candidate_glm"] == pytest.approx(2.2, rel=0.25)
    assert by.loc["rain_heavy_ratio_all", "candidate_hotspot"] == 1.0  # the map has no weather
    for kind in ("weekday", "weekend", "holiday"):
        assert by.loc[f"day_ratio_{kind}", "model"] == pytest.approx(1.0, abs=0.3), kind
    cal = lake.execute("SELECT method, grouping, count(*) AS n, sum(observed) AS obs FROM gold.calibration "
                       "GROUP BY ALL").df()
    assert set(cal["method"]) == methods
    assert set(cal.loc[cal["grouping"] == "month", "n"]) == {12} and set(cal["obs"]) == {test_accidents}
    assert set(cal.loc[cal["grouping"] == "hour", "n"]) == {24}
    assert "oracle" in summary.table and "day bootstrap" in summary.table
    assert all(p.exists() and p.stat().st_size > 0 for p in summary.figures) and len(summary.figures) == 3
    assert {"competition_s", "metrics_s", "effects_s", "write_s"} <= set(summary.timings)


def test_reruns_replace_their_rows_and_keep_other_backtests(lake):
    evaluate(lake, backtest())
    count = "SELECT count(*) FROM gold.{} WHERE model_name = ?"
    n_metrics, n_calibration = (lake.execute(count.format(t), ["backtest-lag0"]).fetchone()[0]
                                for t in ("evaluation", "calibration"))
    assert n_metrics > 0 and n_calibration > 0
    evaluate(lake, backtest())
    assert lake.execute(count.format("evaluation"), ["backtest-lag0"]).fetchone()[0] == n_metrics
    assert lake.execute(count.format("calibration"), ["backtest-lag0"]).fetchone()[0] == n_calibration
    summary = evaluate(lake, backtest(lag=1))  # the candidates see up to 2022 and compete on it
    assert (summary.data_end, summary.baseline_params["fit_years"]) == (2022, [2021])
    per_run = dict(lake.execute("SELECT model_name || '/' || data_end, count(*) FROM gold.evaluation GROUP BY 1"
                                ).fetchall())
    assert per_run == {"backtest-lag0/2023": n_metrics, "backtest-lag1/2022": summary.rows_written}
    # no truth given: no oracle row
    assert not {m for (m,) in lake.execute("SELECT DISTINCT method FROM gold.evaluation").fetchall()} & set(ORACLES)


@pytest.mark.parametrize("test_year, lag, message", [
    (2019, 0, "test year 2019: no accidents in the lake (years present: [2021, 2022, 2023, 2024])"),
    (2022, 0, "data up to 2021: the competition needs accidents in 2021 (validation) and in at least one year "
              "before it (years in the lake: [2021])"),
    (2024, 3, "data up to 2020: the competition needs accidents in 2020"),
])
def test_a_backtest_without_the_years_it_needs_is_a_one_line_error(lake, test_year, lag, message):
    with pytest.raises(AccidentsError) as err:
        evaluate(lake, backtest(test_year=test_year, lag=lag))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    with pytest.raises(AccidentsError, match="candidates=svm: expected some of hotspot, glm"):
        evaluate(lake, backtest(candidates=("svm",)))


def test_observed_counts_truncate_to_the_hour_and_ignore_other_years(world):
    hours = year_hours([2024])
    assert len(hours) == 8784
    points = world.points
    ids = points["point_id"].to_numpy()
    accidents = pd.DataFrame({"point_id": [ids[1], ids[1], ids[5], ids[1], 99],
                              "event_time": pd.to_datetime(["2024-03-01 08:05", "2024-03-01 08:55",
                                                            "2024-12-31 23:59", "2023-03-01 08:00",
                                                            "2024-03-01 08:00"])})
    counts = observed_counts(points, accidents, hours)
    assert counts.sum() == 3  # the 2023 accident and the unknown point are left out
    assert counts[1, hours.get_loc(pd.Timestamp("2024-03-01 08:00"))] == 2
    assert counts[5, -1] == 1


def test_format_table_skips_missing_values():
    text = format_table({"baseline_kde": {"loglik_per_accident": -6.6, "roc_auc": 0.6},
                         "model": {"loglik_per_accident": -6.5, "roc_auc": float("nan")}})
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["method", "LL/acc"] and set(lines[1]) == {"-"}
    assert lines[2].startswith("model") and "-6.500" in lines[2] and lines[2].rstrip().endswith("-")
    assert lines[3].startswith("baseline_kde") and "0.600" in lines[3]


@pytest.mark.slow
def test_log_evaluation_to_mlflow(lake, world, tmp_path):
    import mlflow

    from pipeline.evaluation.evaluation_mlflow import log_evaluation_to_mlflow

    summary = evaluate(lake, backtest(), truth=WorldTruth(world), figure_dir=tmp_path / "figs")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_evaluation_to_mlflow(uri, summary)
    run = mlflow.MlflowClient(uri).get_run(run_id)
    assert run.data.metrics["model.loglik_per_accident"] == pytest.approx(summary.metrics["model"]["loglik_per_accident"])
    assert "baseline_kde.cell_pai_5pct" in run.data.metrics and "oracle.roc_auc" in run.data.metrics
    artifacts = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run_id, "evaluation")}
    assert len([a for a in artifacts if a.endswith(".png")]) == 3


@pytest.mark.slow  # the demo chain: 6 years of demo accidents, 1,274 road points, a year of point-hours
def test_demo_chain_oracle_is_calibrated_and_ranks_best(tmp_path):
    """Demo files -> bronze -> silver (with the demo's weather) -> the backtest of 2024 with the
    generator's truth as the oracle."""
    from pipeline.bronze.ingest import ingest_years
    from pipeline.silver.params import FeatureParams
    from pipeline.sources.demo.model import load_truth
    from pipeline.sources.select import open_source
    from pipeline.usecases.features import build_silver

    settings = Settings(data_dir=tmp_path)
    source = open_source("demo", settings, seed=42)
    con = connect(settings)
    try:
        ingest_years(con, source.files_for_years(list(range(2019, 2025))), source=source.label)
    finally:
        con.close()
    build_silver(settings, FeatureParams(samplers=("uniform",), neg_ratio=2), source=source)
    con = connect(settings)
    try:
        summary = evaluate(con, backtest(), truth=load_truth(settings.demo_dir / "seed42-scale1"))
    finally:
        con.close()
    m = summary.metrics
    assert summary.observed_accidents > 100 and summary.n_points > 1000
    assert 0.8 <= m["oracle"]["expected_observed_ratio"] <= 1.2
    others = [method for method in m if not method.startswith("oracle")]
    assert m["oracle"]["loglik_per_accident"] > max(m[method]["loglik_per_accident"] for method in others)
    assert m["oracle"]["roc_auc"] > max(m["baseline_history"]["roc_auc"], m["baseline_kde"]["roc_auc"])
    assert m["oracle"]["cell_hit_rate_5pct"] >= m["baseline_kde"]["cell_hit_rate_5pct"]
    # both baselines are far better than chance on the demo's spatial structure
    assert m["baseline_kde"]["cell_pai_5pct"] > 2 and m["baseline_history"]["cell_pai_5pct"] > 2
    # the champion is published only when calibrated on its validation year
    assert summary.champion is None or 0.8 <= summary.validation[summary.champion]["expected_observed"] <= 1.25
