"""ServeOptions from the environment: how `accidents serve` hands its options to uvicorn workers
(each worker is a fresh process that builds the app with `pipeline.serving.app:app_from_env`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pipeline.core.errors import AccidentsError
from pipeline.serving.params import ServeOptions

ENV = {"radius_km": "ACCIDENTS_SERVE_RADIUS_KM",
       "refresh_seconds": "ACCIDENTS_SERVE_REFRESH_SECONDS", "max_cached_days": "ACCIDENTS_SERVE_MAX_CACHED_DAYS",
       "compute_slots": "ACCIDENTS_SERVE_COMPUTE_SLOTS", "compute_wait_seconds": "ACCIDENTS_SERVE_COMPUTE_WAIT_SECONDS",
       "header_timeout_seconds": "ACCIDENTS_SERVE_HEADER_TIMEOUT_SECONDS"}


def options_from_env(environ: Mapping[str, str] | None = None) -> ServeOptions:
    env = os.environ if environ is None else environ
    defaults = ServeOptions()
    values = {}
    for field, name in ENV.items():
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        kind = type(getattr(defaults, field))
        try:
            values[field] = kind(raw)
        except ValueError:
            raise AccidentsError(f"{name}={raw!r}: expected {kind.__name__}") from None
    return ServeOptions(**values)


def options_to_env(options: ServeOptions) -> dict[str, str]:
    return {name: str(getattr(options, field)) for field, name in ENV.items()}
