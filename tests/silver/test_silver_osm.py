"""OpenStreetMap roads: maxspeed parsing, file loading, speed imputation, download via a local
Nominatim + Overpass server (127.0.0.1) with commune -> province -> territory fallback and caching."""

from __future__ import annotations

import json
import socket
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
import shapely

from pipeline.core.errors import AccidentsError
from pipeline.sources import osm
from tests.support.net import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osm"


@pytest.mark.parametrize("raw, expected", [
    ("50", 50.0), ("50 mph", 80.5), ("30mph", 48.3), ("70 km/h", 70.0), ("FR:urban", 50.0), ("FR:rural", 80.0),
    ("FR:motorway", 130.0), ("FR:zone30", 30.0), ("none", None), ("signals", None), ("", None), (None, None),
    (["garbage", "90"], 90.0), ("50;70", 50.0), (110, 110.0), (float("nan"), None), ("walk", 6.0), ("0", None),
])
def test_parse_maxspeed(raw, expected):
    assert osm.parse_maxspeed(raw) == expected


def test_small_osm_file_loads_and_normalises():
    roads = osm.load_roads_from_file(FIXTURES / "small_network.osm")
    by_way = roads.set_index("osm_way_id")
    assert set(by_way.index) == {100, 101, 103}  # the footway is not drivable
    assert by_way.loc[100, ["road_type", "speed_limit", "speed_source", "lanes"]].tolist() == [
        "primary", 70.0, "maxspeed", 2]
    assert by_way.loc[103, "speed_limit"] == pytest.approx(48.3)  # 30 mph
    assert by_way.loc[101, ["speed_limit", "speed_source"]].tolist() == [50.0, "class_default"]
    assert bool(by_way.loc[101, "oneway"]) and not bool(by_way.loc[100, "oneway"])
    # 0.02 degree of longitude at 22.27 S ~ 2.06 km, measured in EPSG:3163
    assert by_way.loc[100, "length_m"] == pytest.approx(2061, rel=0.01)
    assert by_way.loc[100, ["mid_lat", "mid_lon"]].tolist() == pytest.approx([-22.27, 166.45], abs=1e-4)
    assert shapely.from_wkt(by_way.loc[100, "geometry_wkt"]).geom_type == "LineString"
    assert roads["edge_id"].tolist() == list(range(len(roads)))


def test_bad_roads_files(tmp_path):
    with pytest.raises(AccidentsError, match="does not exist"):
        osm.load_roads_from_file(tmp_path / "missing.osm")
    pbf = tmp_path / "nc.osm.pbf"
    pbf.write_bytes(b"\x00garbage")
    with pytest.raises(AccidentsError, match="nc.osm.pbf: cannot read OSM PBF"):
        osm.load_roads_from_file(pbf)
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><way id='1'>")
    with pytest.raises(AccidentsError, match="broken.osm"):
        osm.load_roads_from_file(broken)


def test_demo_roads_load_through_the_same_path(tmp_path):
    demo = pytest.importorskip("pipeline.sources.demo.generator")
    if not hasattr(demo, "generate_demo"):
        pytest.skip("demo generator not available")
    from pipeline.sources.demo.network import build_network, write_osm_xml

    path = tmp_path / "roads.osm"
    write_osm_xml(build_network(), path)  # the roads.osm that generate_demo writes
    roads = osm.load_roads_from_file(path)
    assert len(roads) > 100
    assert set(roads["speed_source"]) <= {"maxspeed", "class_default"}
    assert roads["mid_lat"].between(-23.0, -19.5).all() and roads["mid_lon"].between(163.5, 168.0).all()


def test_speed_imputed_from_nearby_accident_vma():
    roads = osm.load_roads_from_file(FIXTURES / "small_network.osm")
    # accidents 20 m south of the residential street (lon 166.46) and one far away
    accidents = pd.DataFrame({"lat": [-22.28, -22.285, -22.281, -22.0], "lon": [166.4602, 166.4602, 166.4602, 166.0],
                              "vma": [30, 30, 70, 110]})
    out = osm.impute_speed_limits(roads, accidents, crs="EPSG:3163").set_index("osm_way_id")
    assert out.loc[101, ["speed_limit", "speed_source"]].tolist() == [30.0, "baac_vma"]
    assert out.loc[100, ["speed_limit", "speed_source"]].tolist() == [70.0, "maxspeed"]  # tag wins


# --- download through a local Nominatim + Overpass -------------------------------------------------

POLYGON = {"type": "Polygon", "coordinates": [[[166.3, -22.4], [166.6, -22.4], [166.6, -22.1], [166.3, -22.1],
                                               [166.3, -22.4]]]}
OVERPASS = {"version": 0.6, "elements": [
    {"type": "node", "id": 1, "lat": -22.27, "lon": 166.44}, {"type": "node", "id": 2, "lat": -22.27, "lon": 166.45},
    {"type": "node", "id": 3, "lat": -22.27, "lon": 166.46}, {"type": "node", "id": 4, "lat": -22.28, "lon": 166.46},
    {"type": "way", "id": 100, "nodes": [1, 2, 3], "tags": {"highway": "primary", "maxspeed": "70"}},
    {"type": "way", "id": 101, "nodes": [3, 4], "tags": {"highway": "residential"}},
]}


class _Recorded(BaseHTTPRequestHandler):
    """Recorded answers: every place geocodes to POLYGON except the `unknown` ones; Overpass
    always answers OVERPASS."""

    unknown: tuple[str, ...] = ()
    queries: list[str] = []

    def _send(self, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - Nominatim search
        query = parse_qs(urlparse(self.path).query).get("q", [""])[0]
        type(self).queries.append(query)
        if query.startswith(self.unknown):
            return self._send([])
        self._send([{"place_id": 1, "osm_type": "relation", "osm_id": 1, "lat": "-22.27", "lon": "166.45",
                     "display_name": query, "class": "boundary", "type": "administrative", "importance": 0.9,
                     "boundingbox": ["-22.4", "-22.1", "166.3", "166.6"], "geojson": POLYGON}])

    def do_POST(self):  # noqa: N802 - Overpass interpreter
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send(OVERPASS)

    def log_message(self, *args):
        pass


@pytest.fixture
def osm_server(monkeypatch):
    import osmnx as ox

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(socket, "getaddrinfo", socket.getaddrinfo)  # osmnx rewires it; restore after
    for name, value in (("nominatim_url", url), ("overpass_url", url), ("overpass_rate_limit", False),
                        ("doh_url_template", None), ("use_cache", False), ("requests_timeout", 5)):
        monkeypatch.setattr(ox.settings, name, value)
    monkeypatch.setattr(ox._nominatim, "time", types.SimpleNamespace(sleep=lambda s: None))  # 1 s politeness pause
    _Recorded.queries = []
    yield _Recorded
    server.shutdown()
    server.server_close()


def test_download_falls_back_to_provinces_and_territory_then_caches(osm_server, tmp_path, monkeypatch):
    osm_server.unknown = ("Bélep", "Province des Îles")
    places = ("Nouméa, Nouvelle-Calédonie, France", "Bélep, Nouvelle-Calédonie, France")
    roads = osm.download_roads("988", tmp_path, places=places)
    assert osm_server.queries == [
        "Nouméa, Nouvelle-Calédonie, France", "Bélep, Nouvelle-Calédonie, France",
        "Province Sud, Nouvelle-Calédonie, France", "Province Nord, Nouvelle-Calédonie, France",
        "Province des Îles Loyauté, Nouvelle-Calédonie, France", "Nouvelle-Calédonie, France",
    ]
    assert sorted(roads["osm_way_id"]) == [100, 101]  # composed graphs, no duplicated edges
    assert set(roads["source"]) == {"overpass"}
    assert (tmp_path / "osm_roads_988.parquet").is_file()

    # a later run needs no network: point osmnx at a closed port and read the cache
    import osmnx as ox

    monkeypatch.setattr(ox.settings, "nominatim_url", "http://127.0.0.1:9")
    cached = osm.download_roads("988", tmp_path, places=places)
    pd.testing.assert_frame_equal(pd.DataFrame(cached.drop(columns="geometry")),
                                  pd.DataFrame(roads.drop(columns="geometry")))


def test_download_offline_is_one_line_error(osm_server, tmp_path, monkeypatch):
    import osmnx as ox

    port = free_port()  # a port nobody listens on
    monkeypatch.setattr(ox.settings, "nominatim_url", f"http://127.0.0.1:{port}")
    with pytest.raises(AccidentsError, match=r"cannot reach OpenStreetMap \(Overpass/Nominatim\): .*use --roads-file") as err:
        osm.download_roads("988", tmp_path / "cache", places=("Nouméa, Nouvelle-Calédonie, France",))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "cache" / "osm_roads_988.parquet").exists()


def test_pbf_file_loads_through_the_same_path_as_xml(tmp_path):
    import osmium

    pbf = tmp_path / "small_network.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(FIXTURES / "small_network.osm")):
            writer.add(obj)
    from_pbf = osm.load_roads_from_file(pbf)
    from_xml = osm.load_roads_from_file(FIXTURES / "small_network.osm")
    columns = ["osm_way_id", "road_type", "speed_limit", "lanes", "oneway"]
    assert from_pbf[columns].equals(from_xml[columns])
    assert from_pbf["length_m"].round(3).tolist() == from_xml["length_m"].round(3).tolist()
