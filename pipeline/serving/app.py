"""The FastAPI layer of the risk API: parameters in, JSON / GeoJSON / HTML out, errors as 4xx JSON.

Rules live in `pipeline.serving.service` and the prediction stage; this module only translates.
Every error body is `{"error": "<parameter>: <what is wrong>", "parameter": "<parameter>"}`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from pipeline.core.errors import AccidentsError
from pipeline.serving import service as svc
from pipeline.serving.metrics import ApiMetrics

log = logging.getLogger("accidents.serving")
API_VERSION = "v1"


def _json(body: Any, status: int = 200, media_type: str = "application/json") -> Response:
    # json.dumps straight to bytes: skips FastAPI's per-field encoding on the hot path.
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=media_type)


def _error(parameter: str | None, message: str, status: int) -> Response:
    return _json({"error": message, "parameter": parameter}, status)


def _geojson(features: list[dict], **properties) -> Response:
    return _json({"type": "FeatureCollection", "properties": properties, "features": features},
                 media_type="application/geo+json")


def _feature(lat: float, lon: float, properties: dict) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


class MetricsMiddleware:
    """Counts and times every request by route template (never by raw path: bounded label sets)."""

    def __init__(self, app, metrics: ApiMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, scope["method"], str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)


def create_app(service_factory, options: svc.ServeOptions) -> FastAPI:
    """The app; `service_factory()` builds the RiskService at start-up (in each worker)."""
    metrics = ApiMetrics()
    state: dict[str, svc.RiskService] = {}

    async def refresh_loop(service: svc.RiskService) -> None:
        while True:
            try:
                moved = await run_in_threadpool(service.refresh)
                if any(moved.values()):
                    log.info("refreshed: %s", ", ".join(k for k, v in moved.items() if v))
            except Exception:  # never let the loop die: the next tick retries
                log.exception("refresh failed")
            await asyncio.sleep(options.refresh_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service = await run_in_threadpool(service_factory)
        state["service"] = service
        task = asyncio.create_task(refresh_loop(service))
        try:
            yield
        finally:
            task.cancel()
            service.close()

    app = FastAPI(
        title="accidents risk API",
        version=API_VERSION,
        description="Road-accident risk per road point and hour in New Caledonia: calibrated probabilities "
                    "of the champion model, from gold.predictions or scored on the fly.",
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    def service() -> svc.RiskService:
        return state["service"]

    @app.exception_handler(svc.ParameterError)
    async def parameter_error(request: Request, exc: svc.ParameterError):
        return _error(exc.parameter, str(exc), exc.status)

    @app.exception_handler(AccidentsError)
    async def accidents_error(request: Request, exc: AccidentsError):
        return _error(None, str(exc), 503)  # the lake or the registry cannot answer right now

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        parameter = str(first["loc"][-1]) if first.get("loc") else None
        value = first.get("input")
        return _error(parameter, f"{parameter}: {first['msg']} (got {value!r})", 422)

    async def grid_for(day, atm: int, parameter: str) -> svc.DayGrid:
        found = service().cached_grid(day, atm)
        if found is not None:
            return found
        return await run_in_threadpool(service().day_grid, day, atm, parameter)

    @app.get("/v1/risk", summary="Risk of the road point nearest to a place, at an hour, in a weather")
    async def risk(
        lat: float = Query(..., ge=-90, le=90, description="latitude, WGS84 degrees"),
        lon: float = Query(..., ge=-180, le=180, description="longitude, WGS84 degrees"),
        time_: str | None = Query(None, alias="time", json_schema_extra={"format": "date-time"},
                                  description="ISO date-time; naive = the département's local time (Nouméa for 988); default now"),
        atm: int = Query(1, ge=1, le=9, description="BAAC weather code (1 normal, 2 light rain, 3 heavy rain, 5 fog)"),
    ):
        day, hour = svc.parse_time(time_, service().settings.department.timezone)
        code = svc.parse_atm(atm)
        point, distance = service().require_roads().nearest(lat, lon, options.radius_km)
        grid = await grid_for(day, code, "time")
        return _json(service().risk(grid, point, distance, hour))

    @app.get("/v1/hotspots", summary="The riskiest road points of a day or of one hour (GeoJSON)")
    async def hotspots(
        date: dt.date = Query(..., description="YYYY-MM-DD (Nouméa)"),
        hour: int | None = Query(None, ge=0, le=23,
                                 description="without it, points ranked by the day's expected accidents"),
        top: int = Query(10, ge=1, le=svc.MAX_TOP, description="how many points"),
        atm: int = Query(1, ge=1, le=9, description="BAAC weather code"),
    ):
        day, code = date, svc.parse_atm(atm)
        grid = await grid_for(day, code, "date")
        points = service().hotspots(grid, hour, top)
        return _geojson([_feature(p["lat"], p["lon"], p) for p in points], date=day.isoformat(), hour=hour,
                        atm=code, model={"name": grid.model_name, "version": grid.model_version},
                        source=grid.source)

    @app.get("/v1/predictions/{date}", summary="Every point-hour of a day (GeoJSON; one hour with ?hour=)")
    async def predictions(date: dt.date, atm: int = Query(1, ge=1, le=9),
                          hour: int | None = Query(None, ge=0, le=23)):
        day, code = date, svc.parse_atm(atm)
        await grid_for(day, code, "date")
        frame = await run_in_threadpool(service().predictions_frame, day, code, hour)
        columns = ["hour", "point_id", "probability", "risk_index", "rank_in_hour", "road_type", "speed_limit", "com"]
        records = frame[columns].astype(object).where(frame[columns].notna(), None).to_dict("records")
        features = [_feature(float(lat), float(lon), rec) for lat, lon, rec in
                    zip(frame["lat"], frame["lon"], records)]
        return _geojson(features, date=day.isoformat(), atm=code, hour=hour,
                        model={"name": str(frame["model_name"].iloc[0]), "version": str(frame["model_version"].iloc[0])})

    @app.get("/v1/map/{date}", response_class=HTMLResponse, summary="The offline HTML risk map of a day")
    async def risk_map(date: dt.date, atm: int = Query(1, ge=1, le=9),
                       top_n: int = Query(3, ge=1, le=10, description="points per hour")):
        from pipeline.serving.map_page import map_html

        day, code = date, svc.parse_atm(atm)
        await grid_for(day, code, "date")
        page = await run_in_threadpool(map_html, service(), day, code, top_n)
        return HTMLResponse(page)

    @app.get("/v1/model", summary="The champion in memory: version, metrics, when it was trained")
    async def model():
        return _json(await run_in_threadpool(service().model_info))

    @app.get("/healthz", summary="The process is alive")
    async def healthz():
        return _json({"status": "ok"})

    @app.get("/readyz", summary="Lake and model reachable")
    async def readyz():
        ready = service().ready() if "service" in state else {"lake": False, "model": False}
        ok = bool(ready["lake"] and ready["model"])
        return _json({"status": "ready" if ok else "not ready", **ready}, 200 if ok else 503)

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus_metrics():
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        metrics.observe_state(service())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def app_from_env() -> FastAPI:
    """uvicorn factory (`--factory`) for multi-worker runs: settings and options from the environment."""
    from pipeline.serving.config import options_from_env
    from pipeline.core.settings import Settings

    settings, options = Settings.from_env(), options_from_env()
    return create_app(lambda: svc.RiskService(settings, options), options)
