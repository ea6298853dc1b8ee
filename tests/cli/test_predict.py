import pytest

from pipeline.cli import main
from pipeline.core.lake import connect
from tests.support.registry import fake_registry
from tests.support.predictions import N_POINTS, CalibratedFakeModel, seed_accidents, seed_road_points


def one_line_error(capsys, argv, match):
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert match in err, err
    return err


@pytest.fixture
def seeded(settings_env, fake_features):
    con = connect(settings_env)
    seed_road_points(con)
    seed_accidents(con)  # history features need the accidents (and their data period)
    con.close()
    return settings_env


def test_predict_then_map(seeded, monkeypatch, capsys):
    calls = fake_registry(monkeypatch, champion=CalibratedFakeModel())
    assert main(["predict", "--date", "2026-03-02", "--atm", "3"]) == 0
    out = capsys.readouterr().out
    assert f"{24 * N_POINTS} rows written" in out and "most dangerous hour 17:00" in out
    assert calls[0][1] == "accidents-risk-988" and calls[0][0].startswith("sqlite:///")
    assert main(["map", "--date", "2026-03-02", "--atm", "3", "--top-n", "5"]) == 0
    html = (seeded.maps_dir / "2026-03-02.html").read_text()
    assert html.count("risk-marker") >= 24 * 5
    assert "synthetic-banner" not in html  # nothing ingested from the demo source
    con = connect(seeded)  # the ingest log of a lake built from the demo source
    con.execute("CREATE TABLE bronze.ingest_log AS SELECT 'demo' AS source, '988' AS dep")
    con.close()
    assert main(["map", "--date", "2026-03-02", "--atm", "3"]) == 0
    assert "SYNTHETIC demo data" in (seeded.maps_dir / "2026-03-02.html").read_text()


def test_predict_range_and_explicit_version(seeded, monkeypatch, capsys):
    calls = fake_registry(monkeypatch, versions={"4": CalibratedFakeModel()})
    assert main(["predict", "--start", "2026-03-01", "--end", "2026-03-03", "--model", "4", "--dep", "988"]) == 0
    assert "3 days" in capsys.readouterr().out
    assert calls == [(seeded.resolved_mlflow_uri, "accidents-risk-988", "4")]
    con = connect(seeded, read_only=True)
    assert con.execute("SELECT count(DISTINCT date), count(*) FROM gold.predictions").fetchone() == (3, 72 * N_POINTS)
    con.close()


def test_default_date_is_tomorrow_in_noumea(seeded, monkeypatch, capsys):
    from pipeline.gold.predictions import tomorrow_in

    fake_registry(monkeypatch, champion=CalibratedFakeModel())
    assert main(["predict"]) == 0
    assert str(tomorrow_in("Pacific/Noumea")) in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, match",
    [
        (["predict", "--date", "2026-02-30"], "--date '2026-02-30': expected YYYY-MM-DD"),
        (["predict", "--date", "tomorrow"], "expected YYYY-MM-DD"),
        (["predict", "--date", "2026-03-01", "--atm", "12"], "atm='12': expected one of 1, 2, 3, 4, 5, 6, 7, 8, 9, forecast"),
        (["predict", "--start", "2026-03-05", "--end", "2026-03-01"], "end 2026-03-01 is before start 2026-03-05"),
        (["map", "--date", "2026-13-01"], "expected YYYY-MM-DD"),
        (["map", "--date", "2026-03-01", "--atm", "0"], "atm='0': expected one of 1, 2, 3, 4, 5, 6, 7, 8, 9, forecast"),
        (["map", "--date", "2026-03-01", "--top-n", "11"], "top_n=11: expected 1..10"),
    ],
)
def test_bad_arguments_give_one_line_errors(settings_env, monkeypatch, capsys, argv, match):
    fake_registry(monkeypatch, champion=CalibratedFakeModel())
    one_line_error(capsys, argv, match)


def test_missing_champion_is_a_one_line_error(seeded, monkeypatch, capsys):
    fake_registry(monkeypatch, champion=None)
    one_line_error(capsys, ["predict", "--date", "2026-03-01"], "no champion model registered")


def test_map_without_predictions_says_to_run_predict(seeded, capsys):
    one_line_error(capsys, ["map", "--date", "2026-03-01"], "run accidents predict --date 2026-03-01")


@pytest.mark.slow
def test_real_registry_without_champion_fails_cleanly(seeded, capsys):
    pytest.importorskip("pipeline.gold.registry")
    pytest.importorskip("mlflow")
    one_line_error(capsys, ["predict", "--date", "2026-03-01"], "no champion registered for accidents-risk-988")
    one_line_error(capsys, ["predict", "--date", "2026-03-01", "--model", "3"], "has no version 3")


def test_predict_forecast_gives_each_hour_its_forecast_weather(seeded, monkeypatch, capsys):
    """--atm forecast against recorded Open-Meteo answers: fog at 04:00, rain at 14:00-15:00."""
    from tests.sources.test_weather_sources import Replay

    server = Replay()
    try:
        monkeypatch.setenv("ACCIDENTS_WEATHER_FORECAST_API", server.url)
        fake_registry(monkeypatch, champion=CalibratedFakeModel())
        assert main(["predict", "--date", "2026-12-01", "--atm", "forecast"]) == 0
        assert main(["predict", "--date", "2026-12-01", "--atm", "1"]) == 0
    finally:
        server.close()
    assert "atm=0 (Prévision météo" in capsys.readouterr().out
    assert {path for path, _ in server.requests} == {"/v1/forecast"}
    con = connect(seeded, read_only=True)
    ratio = con.execute(
        "SELECT f.hour, avg(f.probability / n.probability) FROM gold.predictions f JOIN gold.predictions n "
        "USING (date, hour, point_id) WHERE f.atm = 0 AND n.atm = 1 GROUP BY 1 ORDER BY 1").fetchall()
    con.close()
    assert [h for h, r in ratio if r == pytest.approx(1.4)] == [4, 14, 15]  # the fake model's weather factor
    assert all(r == pytest.approx(1.0) for h, r in ratio if h not in (4, 14, 15))
    assert main(["map", "--date", "2026-12-01", "--atm", "forecast"]) == 0


def test_predict_forecast_unreachable_says_so_in_one_line(seeded, monkeypatch, capsys):
    monkeypatch.setenv("ACCIDENTS_WEATHER_FORECAST_API", "http://127.0.0.1:9/v1")
    fake_registry(monkeypatch, champion=CalibratedFakeModel())
    one_line_error(capsys, ["predict", "--date", "2026-12-01", "--atm", "forecast"],
                   "atm=forecast: no weather forecast reachable (cannot reach http://127.0.0.1:9/v1/forecast")
