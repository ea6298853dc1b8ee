import re

import pytest

from pipeline.cli import main
from pipeline.core.lake import connect
from tests.support.intensity import N_POINTS, fitted_world, register_model, write_world
from tests.support.registry import fake_registry


def one_line_error(capsys, argv, match):
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert match in err, err
    return err


@pytest.fixture(scope="module")
def fitted():
    return fitted_world()


@pytest.fixture
def seeded(settings_env, fitted):
    """The synthetic world in the CLI's lake (road points, accidents, weather history)."""
    con = connect(settings_env)
    write_world(con, fitted[0])
    con.close()
    return settings_env


def test_predict_then_map(seeded, fitted, monkeypatch, capsys):
    calls = fake_registry(monkeypatch, champion=fitted[1])
    assert main(["predict", "--date", "2026-03-02", "--atm", "3"]) == 0
    out = capsys.readouterr().out
    assert "model accidents-risk-988 v7 (Poisson GLM) · atm=3 (Pluie forte)" in out
    assert "learnt from 2022-2024" in out and f"{24 * N_POINTS} rows written" in out
    assert "2026-03-02: expected accidents " in out and "(90 % intervals" in out
    assert "most dangerous hour 1" in out  # the world's evening peak (16:00-18:00)
    hotspots = re.findall(r"^ +(\d+)\. point \d+ .* peak \d\d:00 · (.+)$", out, flags=re.M)
    assert [int(rank) for rank, _ in hotspots] == list(range(1, 11))
    assert all(" x" in why for _, why in hotspots)  # each with the factors that raise it
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


def test_predict_range_and_explicit_version(seeded, fitted, monkeypatch, capsys):
    calls = fake_registry(monkeypatch, versions={"4": fitted[1]})
    assert main(["predict", "--start", "2026-03-01", "--end", "2026-03-03", "--model", "4", "--dep", "988"]) == 0
    assert "3 days" in capsys.readouterr().out
    assert calls == [(seeded.resolved_mlflow_uri, "accidents-risk-988", "4")]
    con = connect(seeded, read_only=True)
    assert con.execute("SELECT count(DISTINCT date), count(*) FROM gold.predictions").fetchone() == (3, 72 * N_POINTS)
    assert con.execute("SELECT count(*) FROM gold.prediction_totals WHERE scope = 'day'").fetchone()[0] == 3
    con.close()


def test_default_date_is_tomorrow_in_noumea(seeded, fitted, monkeypatch, capsys):
    from pipeline.gold.scenarios import tomorrow_in

    fake_registry(monkeypatch, champion=fitted[1])
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
def test_bad_arguments_give_one_line_errors(settings_env, fitted, monkeypatch, capsys, argv, match):
    fake_registry(monkeypatch, champion=fitted[1])
    one_line_error(capsys, argv, match)


def test_a_scenario_the_model_never_saw_is_a_one_line_error(seeded, fitted, monkeypatch, capsys):
    fake_registry(monkeypatch, champion=fitted[1])
    one_line_error(capsys, ["predict", "--date", "2026-03-01", "--atm", "5"],
                   "atm=5 (Brouillard - fumée): the model never saw this weather in its training years")
    con = connect(seeded, read_only=True)
    assert not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'predictions'").fetchone()[0]
    con.close()


def test_missing_champion_is_a_one_line_error(seeded, monkeypatch, capsys):
    fake_registry(monkeypatch, champion=None)
    one_line_error(capsys, ["predict", "--date", "2026-03-01"], "no champion model registered")


def test_map_without_predictions_says_to_run_predict(seeded, capsys):
    one_line_error(capsys, ["map", "--date", "2026-03-01"], "run accidents predict --date 2026-03-01")


@pytest.mark.slow
def test_real_registry_without_champion_fails_cleanly(seeded, capsys):
    one_line_error(capsys, ["predict", "--date", "2026-03-01"], "no champion registered for accidents-risk-988")
    one_line_error(capsys, ["predict", "--date", "2026-03-01", "--model", "3"], "has no version 3")


@pytest.mark.slow  # two MLflow registrations
def test_the_registered_champion_predicts_and_an_uncalibrated_version_is_refused(seeded, fitted, capsys):
    _, model, record = fitted
    uri = seeded.resolved_mlflow_uri
    assert register_model(uri, model, record) == "1"
    assert register_model(uri, model, {**record, "validation_expected_observed": 2.0}, champion=False) == "2"
    assert main(["predict", "--date", "2026-03-02"]) == 0
    assert "model accidents-risk-988 v1 (Poisson GLM)" in capsys.readouterr().out
    assert (seeded.cache_dir / "champion" / "v1" / "model.json").is_file()  # kept for the next run
    one_line_error(capsys, ["predict", "--date", "2026-03-02", "--model", "2"],
                   "accidents-risk-988 version 2 cannot be published: its validation expected/observed is 2.00, "
                   "outside 0.8-1.25")
    con = connect(seeded, read_only=True)
    assert con.execute("SELECT DISTINCT model_version FROM gold.predictions").fetchall() == [("1",)]
    con.close()


def test_predict_forecast_gives_each_hour_its_forecast_weather(seeded, fitted, monkeypatch, capsys):
    """--atm forecast against recorded Open-Meteo answers: fog at 04:00 (a weather the world's model
    never saw: scored as normal and counted), light rain at 14:00, heavy rain at 15:00."""
    from tests.sources.test_weather_sources import Replay

    server = Replay()
    try:
        monkeypatch.setenv("ACCIDENTS_WEATHER_FORECAST_API", server.url)
        fake_registry(monkeypatch, champion=fitted[1])
        assert main(["predict", "--date", "2026-12-01", "--atm", "forecast"]) == 0
        for atm in ("1", "2", "3"):
            assert main(["predict", "--date", "2026-12-01", "--atm", atm]) == 0
    finally:
        server.close()
    out = capsys.readouterr().out
    assert "atm=0 (Prévision météo" in out
    assert f"note: {N_POINTS} forecast point-hours of a weather the model never saw were scored as normal weather" in out
    assert {path for path, _ in server.requests} == {"/v1/forecast"}
    con = connect(seeded, read_only=True)
    rows = con.execute(
        "SELECT f.hour, s.atm, max(abs(f.expected_accidents / s.expected_accidents - 1)) FROM gold.predictions f "
        "JOIN gold.predictions s USING (date, hour, point_id) WHERE f.atm = 0 AND s.atm > 0 GROUP BY ALL").fetchall()
    con.close()
    same = {(hour, atm) for hour, atm, gap in rows if gap < 1e-12}
    assert {hour for hour, atm in same if atm == 1} == set(range(24)) - {14, 15}  # fog at 04:00 too
    assert {hour for hour, atm in same if atm == 2} == {14} and {hour for hour, atm in same if atm == 3} == {15}
    assert main(["map", "--date", "2026-12-01", "--atm", "forecast"]) == 0


def test_predict_forecast_unreachable_says_so_in_one_line(seeded, fitted, monkeypatch, capsys):
    monkeypatch.setenv("ACCIDENTS_WEATHER_FORECAST_API", "http://127.0.0.1:9/v1")
    fake_registry(monkeypatch, champion=fitted[1])
    one_line_error(capsys, ["predict", "--date", "2026-12-01", "--atm", "forecast"],
                   "atm=forecast: no weather forecast reachable (cannot reach http://127.0.0.1:9/v1/forecast")
