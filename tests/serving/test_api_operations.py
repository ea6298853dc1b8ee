"""What operations rely on in the risk API: demo data marked on every answer, docs that work offline,
and slow clients that cannot hold connections."""

from __future__ import annotations

import re
import socket
import time

import httpx
import pytest

from tests.serving.conftest import PREDICTED_DAY, build_demo_lake, serve


@pytest.fixture(scope="module")
def synthetic_api(tmp_path_factory):
    lake = build_demo_lake(tmp_path_factory.mktemp("synthetic") / "data", synthetic=True)
    with serve(lake.settings, refresh_seconds=3600, header_timeout_seconds=0.5) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        yield client, server, lake


def test_answers_from_demo_data_say_so_in_body_and_header(synthetic_api, api):
    client, _, lake = synthetic_api
    point = lake.points.iloc[0]
    risk = client.get("/v1/risk", params={"lat": point.lat, "lon": point.lon, "time": f"{PREDICTED_DAY}T08:00"})
    hotspots = client.get("/v1/hotspots", params={"date": PREDICTED_DAY.isoformat()})
    for r in (risk, hotspots, client.get(f"/v1/predictions/{PREDICTED_DAY}", params={"hour": 3})):
        assert r.status_code == 200 and r.headers["X-Data-Synthetic"] == "true"
    assert risk.json()["synthetic"] is True and hotspots.json()["properties"]["synthetic"] is True
    page = client.get(f"/v1/map/{PREDICTED_DAY}")
    assert page.headers["X-Data-Synthetic"] == "true" and 'id=\'synthetic-banner\'' in page.text
    # the shared demo lake has no ingest log: nothing says synthetic
    real = api.get("/v1/hotspots", params={"date": PREDICTED_DAY.isoformat()})
    assert real.headers["X-Data-Synthetic"] == "false" and real.json()["properties"]["synthetic"] is False
    assert "synthetic-banner" not in api.get(f"/v1/map/{PREDICTED_DAY}").text


def test_docs_load_their_script_and_style_from_the_api_itself(api):
    for page in ("/docs", "/redoc"):
        html = api.get(page).text
        assert not re.search(r"https?://", html), f"{page} refers to another host"
        assets = re.findall(r"""(?:src|href)=["'](/[^"']+)["']""", html)
        assert any(a.endswith(".js") for a in assets) and (page == "/redoc" or any(a.endswith(".css") for a in assets))
        for asset in assets:
            r = api.get(asset)
            assert r.status_code == 200 and len(r.content) > 1000, asset
    swagger = api.get("/docs").text
    assert "/openapi.json" in swagger and "SwaggerUIBundle" in swagger


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed the connection (recv returns b''), None if still open."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(1024):
            pass
        return time.monotonic() - started
    except TimeoutError:
        return None


def test_slow_or_incomplete_headers_are_cut_off_and_others_still_served(synthetic_api):
    client, server, _ = synthetic_api
    silent = socket.create_connection(("127.0.0.1", server.port))  # opens and sends nothing
    slow = socket.create_connection(("127.0.0.1", server.port))
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    try:
        for sock in (silent, slow):
            closed = _closed_within(sock, 5.0)
            assert closed is not None and closed < 2.0, "a connection without complete headers stayed open"
        assert client.get("/healthz").json() == {"status": "ok"}
        # a keep-alive connection whose next request dribbles in is cut off as well
        kept = socket.create_connection(("127.0.0.1", server.port))
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /heal")
        assert _closed_within(kept, 5.0) is not None
        kept.close()
    finally:
        silent.close()
        slow.close()
