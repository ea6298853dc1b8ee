"""The routes of the risk API: parameters in, JSON / GeoJSON / HTML out. Rules live in
`pipeline.serving.service` and the prediction stage; these functions only translate.

What a route needs is on the app's state (set by `pipeline.serving.app`): `service` (the RiskService,
once started), `options` (ServeOptions), `gate` (the bounded scoring of days not stored) and
`metrics`. Answers built from a lake of synthetic demo data say so in a `synthetic` field and the
`X-Data-Synthetic` header.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from pipeline.serving import service as svc
from pipeline.serving.map_page import map_html
from pipeline.serving.responses import data_headers, geojson_response, json_response, point_feature

router = APIRouter()
PREDICTION_COLUMNS = ["hour", "point_id", "expected_accidents", "probability", "risk_index", "rank_in_hour", "road_type", "speed_limit",
                      "com"]


def _service(request: Request) -> svc.RiskService:
    return request.app.state.service


async def grid_for(request: Request, day: dt.date, atm: int, parameter: str) -> svc.DayGrid:
    """The day's grid: from memory at once; from gold.predictions in the shared thread pool; else
    scored through the bounded gate (503 with Retry-After when it is full)."""
    service = _service(request)
    found = service.cached_grid(day, atm)
    if found is None:
        found = await run_in_threadpool(service.stored_grid, day, atm)
    if found is None:
        found = await request.app.state.gate.run((day, atm), service.computed_grid, day, atm, parameter)
    return found


@router.get("/v1/risk", summary="Risk of the road point nearest to a place, at an hour, in a weather")
async def risk(
    request: Request,
    lat: float = Query(..., ge=-90, le=90, description="latitude, WGS84 degrees"),
    lon: float = Query(..., ge=-180, le=180, description="longitude, WGS84 degrees"),
    time_: str | None = Query(None, alias="time", json_schema_extra={"format": "date-time"},
                              description="ISO date-time; naive = the département's local time (Nouméa for 988); "
                                          "default now"),
    atm: int = Query(1, ge=1, le=9, description="BAAC weather code (1 normal, 2 light rain, 3 heavy rain, 5 fog)"),
):
    service = _service(request)
    day, hour = svc.parse_time(time_, service.settings.department.timezone)
    code = svc.parse_atm(atm)
    point, distance = service.require_roads().nearest(lat, lon, request.app.state.options.radius_km)
    grid = await grid_for(request, day, code, "time")
    return json_response(service.risk(grid, point, distance, hour), headers=data_headers(service.synthetic))


@router.get("/v1/hotspots", summary="The riskiest road points of a day or of one hour (GeoJSON)")
async def hotspots(
    request: Request,
    date: dt.date = Query(..., description="YYYY-MM-DD (Nouméa)"),
    hour: int | None = Query(None, ge=0, le=23, description="without it, points ranked by the day's expected accidents"),
    top: int = Query(10, ge=1, le=svc.MAX_TOP, description="how many points"),
    atm: int = Query(1, ge=1, le=9, description="BAAC weather code"),
):
    service, code = _service(request), svc.parse_atm(atm)
    grid = await grid_for(request, date, code, "date")
    points = service.hotspots(grid, hour, top)
    return geojson_response([point_feature(p["lat"], p["lon"], p) for p in points], date=date.isoformat(), hour=hour,
                            atm=code, model=grid.model_info,
                            source=grid.source, synthetic=service.synthetic,
                            headers=data_headers(service.synthetic))


@router.get("/v1/predictions/{date}", summary="Every point-hour of a day (GeoJSON; one hour with ?hour=)")
async def predictions(request: Request, date: dt.date, atm: int = Query(1, ge=1, le=9),
                      hour: int | None = Query(None, ge=0, le=23)):
    service, code = _service(request), svc.parse_atm(atm)
    service.check_response_size(hour)
    grid = await grid_for(request, date, code, "date")
    frame = await run_in_threadpool(service.predictions_frame, grid, hour)
    records = (frame[PREDICTION_COLUMNS].astype(object).where(frame[PREDICTION_COLUMNS].notna(), None)
               .to_dict("records"))
    features = [point_feature(float(lat), float(lon), rec) for lat, lon, rec in zip(frame["lat"], frame["lon"], records)]
    return geojson_response(features, date=date.isoformat(), atm=code, hour=hour,
                            model=grid.model_info,
                            synthetic=service.synthetic, headers=data_headers(service.synthetic))


@router.get("/v1/map/{date}", response_class=HTMLResponse, summary="The offline HTML risk map of a day")
async def risk_map(request: Request, date: dt.date, atm: int = Query(1, ge=1, le=9),
                   top_n: int = Query(3, ge=1, le=10, description="points per hour")):
    service, code = _service(request), svc.parse_atm(atm)
    grid = await grid_for(request, date, code, "date")
    page = await run_in_threadpool(map_html, service, grid, top_n)
    return HTMLResponse(page, headers=data_headers(service.synthetic))


@router.get("/v1/model", summary="The champion in memory: version, metrics, when it was trained")
async def model(request: Request):
    return json_response(await run_in_threadpool(_service(request).model_info))


@router.get("/healthz", summary="The process is alive")
async def healthz():
    return json_response({"status": "ok"})


@router.get("/readyz", summary="Lake loaded and champion loaded or loading")
async def readyz(request: Request):
    service = getattr(request.app.state, "service", None)
    ready = service.ready() if service is not None else {"lake": False, "model": False}
    ok = bool(ready["lake"] and ready["model"])
    return json_response({"status": "ready" if ok else "not ready", **ready}, 200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def prometheus_metrics(request: Request):
    metrics = request.app.state.metrics
    metrics.observe_state(_service(request))
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
