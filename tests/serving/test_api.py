"""The risk API against a live uvicorn on 127.0.0.1, through a real HTTP client."""

from __future__ import annotations

import numpy as np
import pytest

from tests.serving.conftest import N_POINTS, PREDICTED_DAY, REGISTERED, UNPREDICTED_DAY


def gold_rows(settings, day, atm=1):
    from pipeline.core.lake import lake_connection

    with lake_connection(settings, read_only=True) as con:
        return con.execute("SELECT * FROM gold.predictions WHERE date = ? AND atm = ?", [day, atm]).df()


def test_health_and_readiness(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["lake"] and ready.json()["model"]


def test_risk_of_a_predicted_hour_is_the_gold_row(api, demo_lake):
    gold = gold_rows(demo_lake.settings, PREDICTED_DAY)
    row = gold[(gold["hour"] == 17)].sort_values("rank_in_hour").iloc[3]
    r = api.get("/v1/risk", params={"lat": row.lat + 0.001, "lon": row.lon, "time": f"{PREDICTED_DAY}T17:45"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "gold.predictions" and body["point"]["point_id"] == row.point_id
    assert 0.1 < body["point"]["distance_km"] < 0.12  # 0.001 degree of latitude
    assert body["hour"] == 17 and body["probability"] == pytest.approx(row.probability)
    assert body["rank_in_hour"] == row.rank_in_hour == 4 and body["risk_index"] == pytest.approx(row.risk_index)
    assert body["model"] == {"name": REGISTERED, "version": "1", "kind": "Poisson GLM"} and body["n_points"] == N_POINTS


def test_time_zone_aware_times_are_converted_to_noumea(api, demo_lake):
    gold = gold_rows(demo_lake.settings, PREDICTED_DAY)
    row = gold[gold["hour"] == 6].iloc[0]
    # 19:30 UTC the day before = 06:30 in Nouméa (UTC+11)
    r = api.get("/v1/risk", params={"lat": row.lat, "lon": row.lon, "time": "2026-03-01T19:30:00+00:00"})
    assert r.json()["date"] == PREDICTED_DAY.isoformat() and r.json()["hour"] == 6
    assert r.json()["probability"] == pytest.approx(row.probability)


def test_risk_of_an_unpredicted_hour_is_scored_like_the_prediction_stage(api, demo_lake):
    from pipeline.gold.intensity.grid import ScoringGrid
    from pipeline.gold.predictions import day_hours

    point = demo_lake.points.sort_values("point_id").iloc[10]
    r = api.get("/v1/risk", params={"lat": point.lat, "lon": point.lon, "time": f"{UNPREDICTED_DAY}T08:00",
                                    "atm": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "on_the_fly" and body["atm"] == 3 and body["point"]["distance_km"] < 1e-6
    points = demo_lake.points.sort_values("point_id").reset_index(drop=True)
    expected = demo_lake.model.expected_counts(ScoringGrid(points, day_hours([UNPREDICTED_DAY]), 3, "988"))
    assert body["probability"] == pytest.approx(-np.expm1(-expected[10, 8]))
    assert body["risk_index"] == pytest.approx(expected[10, 8] / expected.mean())
    assert body["rank_in_hour"] == 1 + int((expected[:, 8] > expected[10, 8]).sum())


@pytest.mark.parametrize("params,parameter,status", [
    ({"lat": 200, "lon": 166.4}, "lat", 422),
    ({"lat": "north", "lon": 166.4}, "lat", 422),
    ({"lat": -22.27}, "lon", 422),
    ({"lat": -22.27, "lon": "nan"}, "lon", 422),
    ({"lat": -22.27, "lon": 166.4, "time": "tomorrow at five"}, "time", 422),
    ({"lat": -22.27, "lon": 166.4, "atm": "12"}, "atm", 422),
    ({"lat": -22.27, "lon": 166.4, "atm": "rain"}, "atm", 422),
    ({"lat": -25.0, "lon": 160.0}, "lat/lon", 404),  # at sea, far from every road point
    ({"lat": -22.27, "lon": 166.4, "time": "5186-01-01T10:00"}, "time", 422),  # beyond pandas timestamps
    ({"lat": -22.27, "lon": 166.4, "time": "9999-12-31T23:59:59-12:00"}, "time", 422),  # overflows in Nouméa
])
def test_bad_risk_input_is_a_4xx_naming_the_parameter(api, demo_lake, params, parameter, status):
    if "lon" in params and params["lon"] == 166.4:  # snap onto a road point so only the bad field matters
        first = demo_lake.points.iloc[0]
        params = {**params, "lat": first.lat if params["lat"] == -22.27 else params["lat"], "lon": first.lon}
    r = api.get("/v1/risk", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["parameter"] == parameter and parameter in r.json()["error"]


def test_hotspots_of_an_hour_are_the_top_ranks_of_gold(api, demo_lake):
    gold = gold_rows(demo_lake.settings, PREDICTED_DAY)
    top = gold[gold["hour"] == 18].sort_values("rank_in_hour").head(5)
    r = api.get("/v1/hotspots", params={"date": PREDICTED_DAY.isoformat(), "hour": 18, "top": 5})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert body["type"] == "FeatureCollection" and body["properties"]["source"] == "gold.predictions"
    ids = [f["properties"]["point_id"] for f in body["features"]]
    assert ids == top["point_id"].tolist()
    lon, lat = body["features"][0]["geometry"]["coordinates"]
    assert (lat, lon) == pytest.approx((top.iloc[0].lat, top.iloc[0].lon))


def test_hotspots_of_a_day_rank_points_by_expected_accidents(api, demo_lake):
    gold = gold_rows(demo_lake.settings, PREDICTED_DAY)
    expected = gold.groupby("point_id")["expected_accidents"].sum().sort_values(ascending=False).head(3)
    body = api.get("/v1/hotspots", params={"date": PREDICTED_DAY.isoformat(), "top": 3}).json()
    got = [(f["properties"]["point_id"], f["properties"]["expected_accidents"]) for f in body["features"]]
    assert [g[0] for g in got] == expected.index.tolist()
    assert np.allclose([g[1] for g in got], expected.to_numpy())


@pytest.mark.parametrize("params,parameter", [
    ({"date": "2026-02-30"}, "date"), ({"date": PREDICTED_DAY.isoformat(), "hour": 24}, "hour"),
    ({"date": PREDICTED_DAY.isoformat(), "top": 0}, "top"), ({"date": PREDICTED_DAY.isoformat(), "top": "x"}, "top"),
    ({}, "date"),
])
def test_bad_hotspots_input_names_the_parameter(api, params, parameter):
    r = api.get("/v1/hotspots", params=params)
    assert r.status_code == 422 and r.json()["parameter"] == parameter


def test_predictions_of_a_day_as_geojson(api, demo_lake):
    r = api.get(f"/v1/predictions/{PREDICTED_DAY}")
    assert r.status_code == 200
    features = r.json()["features"]
    assert len(features) == 24 * N_POINTS
    gold = gold_rows(demo_lake.settings, PREDICTED_DAY)
    assert sum(f["properties"]["probability"] for f in features) == pytest.approx(gold["probability"].sum())
    one_hour = api.get(f"/v1/predictions/{PREDICTED_DAY}", params={"hour": 17}).json()["features"]
    assert len(one_hour) == N_POINTS and {f["properties"]["hour"] for f in one_hour} == {17}
    assert api.get("/v1/predictions/03-02-2026").json()["parameter"] == "date"


def test_a_whole_day_too_large_for_one_answer_asks_for_an_hour(api, monkeypatch):
    from pipeline.serving import service

    monkeypatch.setattr(service, "MAX_FEATURES", 24 * N_POINTS - 1)
    r = api.get(f"/v1/predictions/{PREDICTED_DAY}")
    assert r.status_code == 422 and r.json()["parameter"] == "hour"
    assert len(api.get(f"/v1/predictions/{PREDICTED_DAY}", params={"hour": 3}).json()["features"]) == N_POINTS
    assert api.get(f"/v1/map/{PREDICTED_DAY}").status_code == 200  # the map draws the top points only


def test_map_of_a_day_is_self_contained_html(api):
    r = api.get(f"/v1/map/{PREDICTED_DAY}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "risk-marker" in r.text and "unpkg.com" not in r.text and "cdn.jsdelivr" not in r.text
    assert api.get(f"/v1/map/{PREDICTED_DAY}", params={"top_n": 11}).json()["parameter"] == "top_n"


def test_model_describes_the_champion(api):
    body = api.get("/v1/model").json()
    assert body["name"] == REGISTERED and body["version"] == "1" and body["kind"] == "Poisson GLM"
    assert "champion" in body["aliases"] and body["trained_at"]


def test_metrics_count_requests_by_route_and_expose_model_and_predictions_age(api):
    api.get("/v1/risk", params={"lat": 200, "lon": 0})
    text = api.get("/metrics").text
    assert 'accidents_api_requests_total{method="GET",route="/v1/risk",status="422"}' in text
    assert 'accidents_api_request_seconds_bucket{le="0.005",route="/v1/risk"}' in text
    assert f'accidents_api_model_version{{model="{REGISTERED}"}} 1.0' in text
    age = [line for line in text.splitlines() if line.startswith("accidents_api_latest_predictions_age_seconds ")]
    assert age and float(age[0].split()[1]) >= 0


def test_openapi_documents_every_route(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/risk", "/v1/hotspots", "/v1/predictions/{date}", "/v1/map/{date}", "/v1/model", "/healthz",
            "/readyz", "/metrics"} <= set(paths)
    assert api.get("/docs").status_code == 200
