"""Replicated demo evaluation: a smoke run (one seed, one test year, one trial) and the table maths."""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from bench.replication import ReplicationConfig, mean_interval, run_replication, write_outputs


def test_mean_interval_is_a_t_interval():
    mean, lo, hi = mean_interval([1.0, 2.0, 3.0, np.nan])
    assert mean == 2.0
    assert hi - mean == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)  # t(0.975, 2) x sd / sqrt(n)
    assert np.isnan(mean_interval([5.0])[1])


def test_config_rejects_test_years_without_training_and_validation_years(tmp_path):
    with pytest.raises(AccidentsError, match="test year 2020"):
        ReplicationConfig(work_dir=tmp_path, test_years=(2020, 2024))


@pytest.mark.slow
def test_replication_smoke_writes_the_table(tmp_path):
    config = ReplicationConfig(work_dir=tmp_path / "work", seeds=(3,), test_years=(2024,), trials=1,
                               algorithms=("lightgbm",), scale=0.3, threads=1, bootstrap_replicates=50)
    result = run_replication(config)
    runs = result.runs.pivot_table(index="method", columns="metric", values="value")
    assert {"model", "baseline_shrunk", "oracle", "oracle_separable", "oracle_weather_blind"} <= set(runs.index)
    # the truth's references are ordered: the full oracle has the best likelihood
    assert runs.loc["oracle", "loglik_per_accident"] >= runs.loc["oracle_separable", "loglik_per_accident"]
    assert runs.loc["model", "recalibration_odds_scale"] > 0
    effects = result.effects
    assert set(effects["effect"]) >= {"light_rain", "heavy_rain", "fog", "overcast", "night"}
    assert (effects.groupby("effect").size().drop("public_holiday", errors="ignore") == 12).all()
    # the demo truth's rain makes accidents likelier in every month
    assert (effects.loc[effects["effect"] == "heavy_rain", "truth"] > 1.5).all()
    slices = result.slices[result.slices["method"] == "model"]
    assert set(slices["grouping"]) == {"weekday", "hour_band", "month", "weather"}
    assert slices.groupby("grouping")["truth"].sum().round(6).nunique() == 1  # each grouping partitions the year
    table = result.table()
    assert "baseline_shrunk" in table and "effect recovery" in table and "calibration per test year" in table
    paths = write_outputs(result, tmp_path / "out")
    assert all(p.stat().st_size > 0 for p in paths)
    assert len(pd.read_csv(tmp_path / "out" / "replication_runs.csv")) == len(result.runs)
