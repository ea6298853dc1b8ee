"""A second département through the whole chain: La Réunion (974) from a small synthetic fixture, with
its own time zone (Indian/Reunion), holidays, metric CRS and main city."""

from __future__ import annotations

import contextlib
import io

import pytest

from pipeline.core.settings import Settings
from tests.departments.reunion_fixture import write_reunion_source


RUN_974 = ["run", "--dep", "974", "--trials", "1", "--candidates", "hotspot,glm", "--weather", "none"]  # no station archive offline


@pytest.fixture(scope="module")
def alone_974(tmp_path_factory):
    """974's whole chain alone in its own lake, once for the module: (data dir, source folder, printed
    output, metric CRSs the hotspot baselines projected to)."""
    from pipeline.cli import main
    from pipeline.gold import baselines

    root = tmp_path_factory.mktemp("dep974")
    source = write_reunion_source(root / "baac974")
    projected_to: set[str] = set()
    to_metric = baselines.to_metric

    # baselines.project looks to_metric up in its own module whoever imported project (hotspot.py does)
    def recording_to_metric(lon, lat, crs):
        projected_to.add(crs)
        return to_metric(lon, lat, crs)

    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()) as out:
        patch.setattr(baselines, "to_metric", recording_to_metric)
        patch.setenv("ACCIDENTS_DATA_DIR", str(root / "data"))
        assert main([*RUN_974, "--source", str(source)]) == 0
    return root / "data", source, out.getvalue(), projected_to


@pytest.mark.slow
def test_run_dep_974_ingests_trains_and_predicts_in_its_time_zone(alone_974, monkeypatch):
    from pipeline.core.lake import lake_connection
    from pipeline.gold.scenarios import tomorrow_in
    from pipeline.gold.registry import list_model_versions

    data_dir, _, out, projected_to = alone_974
    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(data_dir))
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
    assert any("champion" in v["aliases"] and v["protocol"] == "intensity" for v in versions)
    assert (data_dir / "maps" / f"{tomorrow}.html").is_file()
    assert projected_to == {"EPSG:2975"}  # the hotspot baselines measure distances in La Réunion's CRS


def slices(settings: Settings, dep: str) -> dict[str, tuple[int, int]]:
    """Per lake table keyed by département: (rows of `dep`, a hash of their content without the
    columns that record when they were written)."""
    from pipeline.core.lake import lake_connection

    out = {}
    with lake_connection(settings, read_only=True) as con:
        tables = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                             "WHERE table_catalog = 'lake' AND table_schema IN ('bronze', 'silver', 'gold')").fetchall()
        for (table,) in tables:
            columns = [r[0] for r in con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall()]
            assert "dep" in columns, f"{table} has no dep column"
            kept = ", ".join(f'"{c}"' for c in columns if not c.endswith("_at"))
            key = "upper(trim(dep))" if table == "bronze.raw_caracteristiques" else "dep"
            out[table] = con.execute(f"SELECT count(*), bit_xor(hash(struct_pack({kept}))) FROM {table} "
                                     f"WHERE {key} = ?", [dep]).fetchone()
    return out


@pytest.mark.slow
def test_one_lake_holds_two_departements_without_touching_each_other(alone_974, tmp_path, monkeypatch, capsys):
    """988's rows of every table survive 974's ingest, silver, training and predictions in the same lake,
    and 974's tables there hold exactly what 974 alone gives (bronze and silver also the same rows)."""
    from pipeline.cli import main

    data_dir, source, _, _ = alone_974
    run_974 = [*RUN_974, "--source", str(source)]
    alone = slices(Settings(data_dir=data_dir), "974")

    monkeypatch.setenv("ACCIDENTS_DATA_DIR", str(tmp_path / "shared"))
    assert main(["run", "--trials", "1", "--candidates", "hotspot,glm"]) == 0  # 988, the demo, with its weather
    before = slices(Settings.from_env(), "988")
    assert main(run_974) == 0
    capsys.readouterr()
    shared = Settings.from_env()
    assert slices(shared, "988") == before
    together = slices(shared, "974")
    assert {t: n for t, (n, _) in together.items() if n} == {t: n for t, (n, _) in alone.items() if n}
    empty = (0, None)  # a table 974 alone never created (its weather history) holds no 974 row here
    assert all(together[t] == alone.get(t, empty) for t in together if t.startswith(("bronze.", "silver.")))
    assert before["gold.predictions"][0] > 0 and before["silver.weather_hourly"][0] > 0
    assert together["silver.weather_hourly"][0] == 0  # 974 without a weather history; 988 keeps its own
