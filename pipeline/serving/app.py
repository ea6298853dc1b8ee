"""The FastAPI application of the risk API: start-up and shutdown, errors as 4xx/503 JSON, metrics,
and the routes of `pipeline.serving.routes`.

- The service (lake, road points, champion) is built at start-up in each worker; the champion loads
  beside it (`pipeline.serving.champion`), so the API is ready as soon as the lake is.
- `/docs` (Swagger UI) and `/redoc` are served with their JavaScript and CSS from the API itself
  (fastapi-offline's copies): they work with no internet access.
- Days not stored are scored through `pipeline.serving.compute.ComputeGate`: bounded, off the event
  loop; a full gate answers 503 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings
from pipeline.serving import service as svc
from pipeline.serving.compute import Busy, ComputeGate
from pipeline.serving.config import options_from_env
from pipeline.serving.metrics import ApiMetrics
from pipeline.serving.responses import error_response
from pipeline.serving.routes import router

log = logging.getLogger("accidents.serving")
API_VERSION = "v1"
STATIC_URL = "/docs-static"  # Swagger UI's and ReDoc's own files, served by the API


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


async def refresh_loop(service: svc.RiskService, seconds: float) -> None:
    while True:
        try:
            moved = await run_in_threadpool(service.refresh)
            if any(moved.values()):
                log.info("refreshed: %s", ", ".join(k for k, v in moved.items() if v))
        except Exception:  # never let the loop die: the next tick retries
            log.exception("refresh failed")
        await asyncio.sleep(seconds)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(svc.ParameterError)
    async def parameter_error(request: Request, exc: svc.ParameterError):
        return error_response(exc.parameter, str(exc), exc.status)

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        return error_response(None, str(exc), 503, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(AccidentsError)
    async def accidents_error(request: Request, exc: AccidentsError):
        return error_response(None, str(exc), 503)  # the lake or the registry cannot answer right now

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        parameter = str(first["loc"][-1]) if first.get("loc") else None
        value = first.get("input")
        return error_response(parameter, f"{parameter}: {first['msg']} (got {value!r})", 422)


def create_app(service_factory, options: svc.ServeOptions) -> FastAPI:
    """The app; `service_factory()` builds the RiskService at start-up (in each worker)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service = await run_in_threadpool(service_factory)
        app.state.service = service
        task = asyncio.create_task(refresh_loop(service, options.refresh_seconds))
        try:
            yield
        finally:
            task.cancel()
            app.state.gate.close()
            service.close()

    app = FastAPIOffline(
        title="accidents risk API",
        version=API_VERSION,
        description="Road-accident risk per road point and hour in New Caledonia: calibrated probabilities "
                    "of the champion model, from gold.predictions or scored on the fly. Answers built from the "
                    "synthetic demo data carry `synthetic: true` and the header `X-Data-Synthetic: true`.",
        lifespan=lifespan,
        static_url=STATIC_URL,
    )
    app.state.options, app.state.metrics = options, ApiMetrics()
    app.state.gate = ComputeGate(options.compute_slots, options.compute_wait_seconds)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    add_error_handlers(app)
    app.include_router(router)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory (`--factory`) for multi-worker runs: settings and options from the environment."""
    settings, options = Settings.from_env(), options_from_env()
    return create_app(lambda: svc.RiskService(settings, options), options)
