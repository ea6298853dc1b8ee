"""silver.weather_hourly: which source `--weather` picks, and the table it writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.sources.weather import DemoWeather, OpenMeteoArchive, WeatherCsvFolder
from pipeline.silver.weather import build_weather_hourly, demo_truth_folder, resolve_weather_source


def _demo_folder(root, name: str, rows: int):
    from pipeline.sources.demo.model import DemoTruth, FittedModel, save_truth

    folder = root / name
    hours = pd.date_range("2020-01-01", periods=48, freq="h")
    weather = pd.DataFrame({"date": hours.normalize().date, "hour": hours.hour.astype("int8"),
                            "atm": np.resize(np.array([1, 2, 3, 8], dtype="int8"), 48)})
    model = FittedModel(np.ones(24), np.ones(7), np.ones(12), np.ones(4), {2020: 1.0}, {2020: 1.0}, 1.0, [], {})
    save_truth(DemoTruth(pd.DataFrame({"site_id": [0], "lat": [-22.0], "lon": [166.0]}), weather, model),
               folder / "demo_truth")
    (folder / "caracteristiques-2020.csv").write_text("h\n" + "x\n" * rows)
    return folder / "demo_truth"


def _log(con, source: str, rows: int) -> None:
    con.execute("CREATE OR REPLACE TABLE bronze.ingest_log AS SELECT * FROM (VALUES "
                f"('caracteristiques-2020.csv', 2020, 'caracteristiques', '{source}', {rows}, '988')) "
                "t(source_file, year, kind, source, rows_read, dep)")


def test_demo_weather_is_found_by_the_ingested_row_counts(lake, settings):
    _demo_folder(settings.demo_dir, "seed1-scale1", 5)
    wanted = _demo_folder(settings.demo_dir, "seed2-scale1", 7)
    _log(lake, "demo", 7)
    assert demo_truth_folder(lake, settings) == wanted
    source = resolve_weather_source("auto", lake, settings)
    assert isinstance(source, DemoWeather) and source.truth_folder == wanted
    summary = build_weather_hourly(lake, source, [2020])
    assert (summary.rows, summary.stations, summary.source) == (48, 1, "demo")
    assert summary.atm_shares == {1: 0.25, 2: 0.25, 3: 0.25, 8: 0.25}
    stored = lake.execute("SELECT hour, atm FROM silver.weather_hourly ORDER BY hour").df()
    assert stored["atm"].tolist()[:4] == [1, 2, 3, 8] and stored["hour"].iloc[0] == pd.Timestamp("2020-01-01")
    _log(lake, "demo", 9)
    with pytest.raises(AccidentsError, match="0 demo folders .* pass --weather DEMO_FOLDER/demo_truth"):
        resolve_weather_source("demo", lake, settings)


def test_other_specs(lake, settings, tmp_path):
    _log(lake, "datagouv", 3)
    assert resolve_weather_source("none", lake, settings) is None
    assert isinstance(resolve_weather_source("auto", lake, settings), OpenMeteoArchive)
    assert isinstance(resolve_weather_source(str(tmp_path), lake, settings), WeatherCsvFolder)
    truth = _demo_folder(tmp_path, "d", 1)
    assert isinstance(resolve_weather_source(str(truth), lake, settings), DemoWeather)
    build_weather_hourly(lake, DemoWeather(truth), [2020])
    assert resolve_weather_source("auto", lake, settings) == "keep"  # a lake with weather keeps it
    with pytest.raises(AccidentsError, match="not ingested from the demo"):
        resolve_weather_source("demo", lake, settings)
