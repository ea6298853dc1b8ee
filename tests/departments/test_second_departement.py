"""A second département through the whole chain: La Réunion (974) from a small synthetic fixture, with
its own time zone (Indian/Reunion), holidays, metric CRS and main city."""

from __future__ import annotations

import pytest

from pipeline.core.settings import Settings
from tests.departments.reunion_fixture import write_reunion_source


@pytest.mark.slow
def test_run_dep_974_ingests_trains_and_predicts_in_its_time_zone(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main
    from pipeline.core.lake import lake_connection
    from pipeline.gold.predictions import tomorrow_in
    from pipeline.gold.registry import list_model_versions

    source = write_reunion_source(tmp_path / "baac974")
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "data"))
    assert main(["run", "--dep", "974", "--source", str(source), "--trials", "2", "--algorithms", "lightgbm"]) == 0
    out = capsys.readouterr().out
    tomorrow = tomorrow_in("Indian/Reunion")
    assert f"predict {tomorrow}" in out and "département(s) 974" in out

    settings = Settings.from_env().for_departments("974")
    with lake_connection(settings, read_only=True) as con:
        deps = con.execute("SELECT DISTINCT dep FROM bronze.accidents").fetchall()
        points = con.execute("SELECT count(*), min(dep), max(dep) FROM silver.road_points").fetchone()
        predicted = con.execute("SELECT DISTINCT date FROM gold.predictions").fetchall()
        holidays = con.execute("SELECT max(is_holiday) FROM silver.features "
                               "WHERE strftime(event_time, '%m-%d') = '12-20'").fetchone()[0]
    assert deps == [("974",)] and points[0] > 10 and points[1:] == ("974", "974")
    assert predicted == [(tomorrow,)]
    assert holidays in (None, 1)  # 20 December (abolition of slavery) is a holiday in La Réunion
    versions = list_model_versions(settings.resolved_mlflow_uri, "accidents-risk-974")
    assert any("champion" in v["aliases"] and v["protocol"] == "temporal" for v in versions)
    assert (tmp_path / "data" / "maps" / f"{tomorrow}.html").is_file()
