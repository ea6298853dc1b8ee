"""`accidents serve`: the real-time risk API (FastAPI under uvicorn) over the lake and the champion."""

from __future__ import annotations

import argparse

from pipeline.core.errors import AccidentsError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve the risk API (/v1/risk, /v1/hotspots, /v1/map, /metrics...) over HTTP",
        description="Serve the risk API with uvicorn. The lake (embedded by default, production by the usual "
                    "ACCIDENTS_* settings) is opened read-only; OpenAPI docs at /docs.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    p.add_argument("--dep", default=None, help="département whose champion to serve (default: ACCIDENTS_DEPS or 988)")
    p.add_argument("--radius-km", type=float, default=2.0,
                   help="farthest a place may be from a road point (default 2 km)")
    p.add_argument("--refresh-seconds", type=float, default=30.0,
                   help="how often new predictions and a moved champion alias are picked up (default 30)")
    p.add_argument("--compute-slots", type=int, default=1,
                   help="days not in gold.predictions scored at once, off the event loop (default 1)")
    p.add_argument("--compute-wait-seconds", type=float, default=2.0,
                   help="how long a request waits for a free scoring slot before a 503 with Retry-After (default 2)")
    p.add_argument("--header-timeout", type=float, default=10.0,
                   help="seconds a connection has to send a request's headers before it is closed (default 10)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace, settings) -> int:
    import os

    from pipeline.serving.config import options_to_env
    from pipeline.serving.params import ServeOptions
    from pipeline.serving.server import PROTOCOL

    if not 1 <= args.port <= 65535:
        raise AccidentsError(f"--port {args.port}: expected 1..65535")
    if args.workers < 1:
        raise AccidentsError(f"--workers {args.workers}: expected at least 1")
    options = ServeOptions(radius_km=args.radius_km, refresh_seconds=args.refresh_seconds,
                           compute_slots=args.compute_slots, compute_wait_seconds=args.compute_wait_seconds,
                           header_timeout_seconds=args.header_timeout)
    if args.dep:
        settings.for_departments(args.dep)  # validates the code
    import uvicorn

    # Workers are fresh processes: they read settings and options from the environment.
    os.environ.update(options_to_env(options))
    if args.dep:
        os.environ["ACCIDENTS_DEPS"] = args.dep
    uvicorn.run("pipeline.serving.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, access_log=False, http=PROTOCOL)
    return 0
