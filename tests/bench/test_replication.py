"""Replicated backtests of the shipped path: the table maths, the headline figures the bench records,
and a smoke run (one small world, one test year, two candidates)."""

import numpy as np
import pandas as pd
import pytest

from bench.replication import (
    ReplicationConfig, ReplicationResult, fast_below_slow, headline_figures, mean_interval, run_replication,
    write_outputs,
)
from pipeline.core.errors import AccidentsError


def test_mean_interval_is_a_t_interval():
    mean, lo, hi = mean_interval([1.0, 2.0, 3.0, np.nan])
    assert mean == 2.0
    assert hi - mean == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)  # t(0.975, 2) x sd / sqrt(n)
    assert np.isnan(mean_interval([5.0])[1])


def test_config_rejects_test_years_without_training_and_validation_years(tmp_path):
    with pytest.raises(AccidentsError, match="test year 2020"):
        ReplicationConfig(work_dir=tmp_path, test_years=(2020, 2024), lag=1)


def test_headline_figures_are_the_targets_quantities():
    """Two replications: the champion beats the shrunk map by +0.3 and -0.1, the oracle beats it by 0.1
    and 0.2; its expected PAI is ahead of the best baseline once."""
    rows = []
    for seed, (model_ll, oracle_ll, model_pai, kde_pai) in {1: (-9.5, -9.4, 14.0, 13.0), 2: (-9.9, -9.7, 13.0, 13.5)}.items():
        figures = {"model": (model_ll, model_pai), "baseline_shrunk": (-9.8, 12.0), "baseline_kde": (-9.9, kde_pai),
                   "oracle": (oracle_ll, 14.5)}
        for method, (ll, pai) in figures.items():
            rows += [{"seed": seed, "test_year": 2024, "method": method, "metric": "loglik_per_accident", "value": ll},
                     {"seed": seed, "test_year": 2024, "method": method, "metric": "cell_expected_pai_5pct",
                      "value": pai}]
    champions = pd.DataFrame({"seed": [1, 2], "test_year": [2024, 2024], "champion": ["glm", "blend"],
                              "data_end": [2022, 2022], "lag": [1, 1]})
    h = headline_figures(ReplicationResult(pd.DataFrame(rows), champions, 1.0))
    assert h["replications"] == 2
    assert h["loglik_gain_over_shrunk_mean"] == pytest.approx(0.1)
    assert h["loglik_gain_over_shrunk_positive"] == 1
    assert h["loglik_gap_to_oracle_mean"] == pytest.approx(0.15)
    assert h["expected_pai_at_least_best_baseline"] == 1
    assert h["expected_pai_share_of_oracle_mean"] == pytest.approx((14.0 + 13.0) / 14.5 / 2)


def test_equal_rain_ratios_are_not_counted_as_fast_below_slow():
    model = pd.DataFrame({"rain_heavy_ratio_fast": [2.116929, 2.0, 2.5],
                          "rain_heavy_ratio_slow": [2.116929 + 1e-15, 2.1, 2.4]})
    assert fast_below_slow(model, "heavy") == 1  # only the second is below; the first is a rounding tie


@pytest.mark.slow
def test_replication_smoke_writes_the_table(tmp_path):
    config = ReplicationConfig(work_dir=tmp_path / "work", seeds=(3,), test_years=(2024,), trials=1,
                               candidates=("hotspot", "glm"), scale=0.3, threads=1, bootstrap_replicates=50)
    result = run_replication(config)
    runs = result.runs.pivot_table(index="method", columns="metric", values="value")
    assert {"model", "candidate_glm", "candidate_hotspot", "baseline_shrunk", "oracle", "oracle_separable"} <= set(runs.index)
    # the truth's references are ordered: the full oracle has the best likelihood
    assert runs.loc["oracle", "loglik_per_accident"] >= runs.loc["oracle_separable", "loglik_per_accident"]
    # the GLM's rain terms are monotone: rain never lowers a point-hour
    assert runs.loc["candidate_glm", "rain_lowers_share"] == 0
    assert runs.loc["model", "rain_heavy_ratio_all_truth"] > 1
    table = result.table()
    assert "baseline_shrunk" in table and "targets:" in table and "days in normal weather" in table
    assert headline_figures(result)["replications"] == 1
    paths = write_outputs(result, tmp_path / "out")
    assert all(p.stat().st_size > 0 for p in paths)
    assert len(pd.read_csv(tmp_path / "out" / "replication_runs.csv")) == len(result.runs)
