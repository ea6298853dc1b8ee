"""bench/bench_weather_effect.py reports the backtest's own rain measurement
(pipeline.evaluation.effects.rain_ratios), reshaped to one row per rain level x roads and judged
against issue 22's tolerances: no second scoring path."""

from __future__ import annotations

import pandas as pd
import pytest

import bench.bench_weather_effect as bench_weather_effect
import pipeline.evaluation.effects as effects


def fake_ratios(calls, ratios):
    def measured(models, truth, points, year, department):
        calls.append((dict(models), truth, len(points), year, department))
        values = {"rain_lowers_share": 0.0}
        for (level, roads), (model, true) in ratios.items():
            values[f"rain_{level}_ratio_{roads}"] = model
            values[f"rain_{level}_ratio_{roads}_truth"] = true
        return {name: values for name in models}
    return measured


def test_the_table_is_the_backtests_measurement_judged_by_road_kind(monkeypatch):
    calls = []
    ratios = {("light", "all"): (1.30, 1.36), ("light", "slow"): (1.20, 1.30), ("light", "fast"): (1.50, 1.70),
              ("heavy", "all"): (1.30, 1.82), ("heavy", "slow"): (1.60, 1.70), ("heavy", "fast"): (1.50, 2.56)}
    monkeypatch.setattr(effects, "rain_ratios", fake_ratios(calls, ratios))
    points = pd.DataFrame({"point_id": [1, 2, 3]})
    table, lowers = bench_weather_effect.rain_table("the model", "the truth", points, 2024, "988")

    (models, truth, n_points, year, department), = calls
    assert models == {"model": "the model"} and truth == "the truth"
    assert (n_points, year, department) == (3, 2024, "988")
    assert list(table.columns) == ["rain", "roads", "model", "truth", "gap_%", "within"]
    assert len(table) == 6 and lowers == 0.0
    row = table.set_index(["rain", "roads"])
    assert row.loc[("heavy", "all"), "gap_%"] == pytest.approx(100 * (1.30 / 1.82 - 1))
    # +-25 % on all and slow roads, +-40 % on fast roads
    assert not row.loc[("heavy", "all"), "within"] and row.loc[("light", "all"), "within"]
    assert row.loc[("light", "fast"), "within"] and not row.loc[("heavy", "fast"), "within"]  # -11.8 % / -41.4 %
    assert not bench_weather_effect.fast_not_below_slow(table)  # heavy rain: fast 1.50 < slow 1.60


def test_a_network_without_fast_roads_has_no_fast_rows(monkeypatch):
    ratios = {(level, roads): (1.5, 1.5) for level in ("light", "heavy") for roads in ("all", "slow")}
    monkeypatch.setattr(effects, "rain_ratios", fake_ratios([], ratios))
    table, _ = bench_weather_effect.rain_table("m", "t", pd.DataFrame({"point_id": [1]}), 2024, "988")
    assert set(table["roads"]) == {"all", "slow"} and table["within"].all()
    assert bench_weather_effect.fast_not_below_slow(table)
