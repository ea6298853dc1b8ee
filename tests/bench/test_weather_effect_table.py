"""bench/bench_weather_effect.py reports the replication's own weather-effect measurement
(bench.replication.weather_effects), reshaped to one row per month: no second scoring path."""

from __future__ import annotations

import pandas as pd
import pytest

import bench.bench_weather_effect as bench_weather_effect
import bench.replication as replication


def test_the_monthly_table_is_the_replications_measurement_on_every_third_hour(monkeypatch):
    calls = []

    def measured(con, model, truth, year, *, hours=None, effects=replication.WEATHER_EFFECTS):
        calls.append((year, hours, tuple(effects)))
        return pd.DataFrame([{"effect": name, "month": m, "learned": code * (1 + m / 100), "truth": float(code)}
                             for code, name in effects for m in range(1, 13)])

    monkeypatch.setattr(replication, "weather_effects", measured)
    table = bench_weather_effect.learned_and_true_ratios("con", "model", "truth", 2024)

    (year, hours, effects), = calls
    assert year == 2024 and effects == ((2, "light"), (3, "heavy"))
    assert len(hours) == 366 * 8 and hours[0] == pd.Timestamp("2024-01-01") and hours[1] - hours[0] == pd.Timedelta("3h")
    assert list(table.columns) == ["month", "light_learned", "light_true", "heavy_learned", "heavy_true",
                                   "light_gap_%", "heavy_gap_%"]
    assert table["month"].tolist() == list(range(1, 13))
    assert table.loc[table["month"] == 7, "heavy_learned"].item() == pytest.approx(3 * 1.07)
    assert table.loc[table["month"] == 7, "light_gap_%"].item() == pytest.approx(7.0)
