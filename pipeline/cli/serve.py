"""`accidents serve`: the real-time risk API (FastAPI under uvicorn) over the lake and the champion."""

from __future__ import annotations

import argparse
import os

import uvicorn

from pipeline.core.errors import AccidentsError
from pipeline.serving.config import options_to_env
from pipeline.serving.params import ServeOptions
from pipeline.serving.server import PROTOCOL


def run_serve(args: argparse.Namespace, settings) -> int:
    if not 1 <= args.port <= 65535:
        raise AccidentsError(f"--port {args.port}: expected 1..65535")
    if args.workers < 1:
        raise AccidentsError(f"--workers {args.workers}: expected at least 1")
    options = ServeOptions(radius_km=args.radius_km, refresh_seconds=args.refresh_seconds,
                           compute_slots=args.compute_slots, compute_wait_seconds=args.compute_wait_seconds,
                           header_timeout_seconds=args.header_timeout)

    # Workers are fresh processes: they read settings and options from the environment.
    os.environ.update(options_to_env(options))
    if args.dep:
        os.environ["ACCIDENTS_DEPS"] = args.dep
    uvicorn.run("pipeline.serving.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, access_log=False, http=PROTOCOL)
    return 0
