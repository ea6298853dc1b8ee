"""Weather sources: Open-Meteo clients against a loopback server replaying recorded answers (cache,
offline error), the CSV folder (one-line errors naming file and line) and the demo's weather."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.departments import DEPARTMENTS, NEW_CALEDONIA
from pipeline.sources.weather import (
    NEW_CALEDONIA_STATIONS, DemoWeather, OpenMeteoArchive, OpenMeteoForecast, Station, WeatherCsvFolder,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "open_meteo"
NOUMEA = (NEW_CALEDONIA_STATIONS[0],)
STATIONS = NEW_CALEDONIA_STATIONS


class Replay:
    """127.0.0.1 server answering /v1/archive and /v1/forecast with the recorded JSON files."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                owner.requests.append((url.path, query))
                name = {"/v1/archive": "archive_noumea_2024.json",
                        "/v1/forecast": "forecast_noumea_2026-12-01.json"}.get(url.path)
                status, body = (200, (FIXTURES / name).read_bytes()) if name else (
                    400, json.dumps({"error": True, "reason": "Cannot initialize WeatherVariable"}).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def replay():
    server = Replay()
    yield server
    server.close()


def test_archive_parses_recorded_answer_into_atm_codes(replay, tmp_path):
    client = OpenMeteoArchive(replay.url, tmp_path / "cache", today=dt.date(2026, 6, 1), stations=NOUMEA, department=NEW_CALEDONIA)
    rows = client.hourly([2024]).set_index("hour")
    path, query = replay.requests[0]
    assert path == "/v1/archive" and query["start_date"] == "2024-01-01" and query["end_date"] == "2024-12-31"
    assert query["timezone"] == "Pacific/Noumea" and "precipitation" in query["hourly"].split(",")
    assert len(rows) == 72 - 3  # the trailing null hours are no record
    code = rows["atm"]
    assert code[pd.Timestamp("2024-01-01 05:00")] == 2  # 0.3 mm: light rain
    assert code[pd.Timestamp("2024-01-01 07:00")] == 3  # 5.6 mm: heavy rain
    assert code[pd.Timestamp("2024-01-02 06:00")] == 2  # 0.1 mm, the light-rain threshold
    assert code[pd.Timestamp("2024-01-03 02:00")] == 6  # gusts 81 km/h
    assert code[pd.Timestamp("2024-01-03 12:00")] == 8  # cloud cover 95 %
    assert code[pd.Timestamp("2024-01-01 00:00")] == 1
    assert rows["visibility_m"].isna().all()  # not in the archive: NaN, never a fog
    assert set(rows["station_id"]) == {"noumea"} and rows["source"].iloc[0] == "open-meteo-archive"


def test_archive_settled_year_is_served_from_the_cache_without_network(replay, tmp_path):
    cache = tmp_path / "cache"
    first = OpenMeteoArchive(replay.url, cache, today=dt.date(2026, 6, 1), stations=NOUMEA, department=NEW_CALEDONIA).hourly([2024])
    replay.close()  # nothing listens any more
    offline = OpenMeteoArchive("http://127.0.0.1:9/v1", cache, today=dt.date(2026, 6, 1), stations=NOUMEA, department=NEW_CALEDONIA)
    pd.testing.assert_frame_equal(offline.hourly([2024]), first)
    assert len(replay.requests) == 1


def test_archive_current_year_is_fetched_again(replay, tmp_path):
    client = OpenMeteoArchive(replay.url, tmp_path / "cache", today=dt.date(2024, 3, 1), stations=NOUMEA, department=NEW_CALEDONIA)
    client.hourly([2024])
    client.hourly([2024])
    assert len(replay.requests) == 2
    assert replay.requests[0][1]["end_date"] == "2024-03-01"  # never asks beyond today


def test_archive_offline_is_one_line_error(tmp_path):
    client = OpenMeteoArchive("http://127.0.0.1:9/v1", tmp_path / "cache", today=dt.date(2026, 6, 1),
                              stations=NOUMEA, department=NEW_CALEDONIA, retries=0, timeout=2)
    with pytest.raises(AccidentsError, match=r"cannot reach http://127\.0\.0\.1:9/v1/archive") as err:
        client.hourly([2024])
    assert "\n" not in str(err.value)


def test_api_error_reason_is_reported(replay, tmp_path):
    client = OpenMeteoArchive(replay.url.replace("/v1", "/v2"), tmp_path, today=dt.date(2026, 6, 1), stations=NOUMEA, department=NEW_CALEDONIA)
    with pytest.raises(AccidentsError, match="HTTP 400 Cannot initialize WeatherVariable"):
        client.hourly([2024])


def test_forecast_reads_visibility_as_fog(replay):
    rows = OpenMeteoForecast(replay.url, stations=NOUMEA, department=NEW_CALEDONIA).day(dt.date(2026, 12, 1)).set_index("hour")
    assert replay.requests[0][1]["start_date"] == "2026-12-01"
    assert rows.loc[pd.Timestamp("2026-12-01 04:00"), "atm"] == 5
    assert rows.loc[pd.Timestamp("2026-12-01 15:00"), "atm"] == 3
    assert (rows["atm"] == 1).sum() == 21


def _write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_csv_folder_derives_or_keeps_atm(tmp_path):
    _write_csv(tmp_path / "w" / "noumea.csv",
               "station_id,lat,lon,time,precipitation_mm,visibility_m\n"
               "nou,-22.27,166.45,2023-02-01 10:00,0,500\n"
               "nou,-22.27,166.45,2023-02-01 11:00,7.5,\n"
               "nou,-22.27,166.45,2023-02-01 12:00,,\n")
    _write_csv(tmp_path / "w" / "sub" / "kone.csv",
               "station_id,lat,lon,time,atm\nkon,-21.05,164.84,2023-02-01T10:00,8\n")
    rows = WeatherCsvFolder(tmp_path / "w").hourly([2023]).set_index(["station_id", "hour"])["atm"]
    t = pd.Timestamp("2023-02-01 10:00")
    assert rows[("nou", t)] == 5 and rows[("nou", t + pd.Timedelta("1h"))] == 3
    assert rows[("nou", t + pd.Timedelta("2h"))] == 1  # nothing measured: normal
    assert rows[("kon", t)] == 8


@pytest.mark.parametrize(("text", "message"), [
    ("station_id,lat,lon,time,precipitation_mm\na,-22,166,2023-01-01 00:00,lots\n", r"x\.csv:2: bad precipitation_mm value 'lots'"),
    ("station_id,lat,lon,time,atm\na,-22,166,2023-01-01 00:00,1\na,-22,166,yesterday,1\n", r"x\.csv:3: bad time value 'yesterday'"),
    ("station_id,lat,lon,time,atm\na,-122,166,2023-01-01 00:00,1\n", r"x\.csv:2: bad lat value '-122'"),
    ("station_id,lat,lon,time,atm\na,-22,166,2023-01-01 00:00,12\n", r"x\.csv:2: bad atm value '12'"),
    ("station_id,lat,time,atm\na,-22,2023-01-01 00:00,1\n", r"x\.csv: missing column lon"),
])
def test_csv_folder_bad_input_names_file_and_line(tmp_path, text, message):
    _write_csv(tmp_path / "x.csv", text)
    with pytest.raises(AccidentsError, match=message):
        WeatherCsvFolder(tmp_path).hourly([2023])


def test_csv_folder_empty_or_missing(tmp_path):
    with pytest.raises(AccidentsError, match="not a folder"):
        WeatherCsvFolder(tmp_path / "nowhere").hourly([2023])
    with pytest.raises(AccidentsError, match="no .csv file"):
        WeatherCsvFolder(tmp_path).hourly([2023])


def test_demo_weather_is_the_generators_hourly_truth(tmp_path):
    from pipeline.sources.demo.model import save_truth, DemoTruth, FittedModel

    hours = pd.date_range("2022-12-31 22:00", periods=5, freq="h")
    weather = pd.DataFrame({"date": hours.normalize().date, "hour": hours.hour.astype("int8"),
                            "atm": np.array([1, 2, 3, 8, 1], dtype="int8")})
    model = FittedModel(np.ones(24), np.ones(7), np.ones(12), np.ones(4), {2023: 1.0}, {2023: 1.0}, 1.0, [], {})
    save_truth(DemoTruth(pd.DataFrame({"site_id": [0], "lat": [-22.0], "lon": [166.0]}), weather, model),
               tmp_path / "demo_truth")
    rows = DemoWeather(tmp_path / "demo_truth").hourly([2023])
    assert rows["hour"].tolist() == list(hours[2:]) and rows["atm"].tolist() == [3, 8, 1]
    assert rows["station_id"].unique().tolist() == ["demo"]
    with pytest.raises(AccidentsError, match="covers no year"):
        DemoWeather(tmp_path / "demo_truth").hourly([2030])


def test_every_station_lies_in_new_caledonia():
    from pipeline.core.departments import DEPARTMENTS

    assert all(isinstance(s, Station) for s in STATIONS)
    profile = DEPARTMENTS["988"]
    lat = np.array([s.lat for s in STATIONS])
    lon = np.array([s.lon for s in STATIONS])
    assert len({s.station_id for s in STATIONS}) == len(STATIONS)
    assert (lat > -23.5).all() and (lat < -19.5).all() and (lon > 163.5).all() and (lon < 168.5).all(), profile


def test_a_departement_without_listed_stations_gets_a_grid_over_its_bounds():
    from pipeline.sources.weather import stations_for

    reunion = DEPARTMENTS["974"]
    grid = stations_for(reunion)
    assert len(grid) == 9 and all(reunion.contains(s.lat, s.lon) for s in grid)
    assert stations_for(NEW_CALEDONIA) == NEW_CALEDONIA_STATIONS
    assert OpenMeteoForecast("http://127.0.0.1:9/v1", department=reunion).time_zone == "Indian/Reunion"
