"""Parameters of the use cases that are not a stage's own (those live beside their stage: bronze, silver,
gold `params.py`). No stage code is imported here, so that the CLI builds its arguments without loading
the use case."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.params import Params, param
from pipeline.gold.params import STALE_RUN_HOURS


@dataclass(frozen=True)
class MaintenanceParams(Params):
    retention_days: float = param(7.0, "expire snapshots older than this (time travel reaches back this far)",
                                  low=0.0)
    # A writer may be about to commit an untracked file younger than this.
    orphan_grace_minutes: float = param(60.0, "leave untracked files younger than this", low=0.0)
    # Runs whose owner process can be checked from here are marked as soon as it is gone (run_owner).
    stale_run_hours: float = param(STALE_RUN_HOURS, "mark MLflow runs still RUNNING after this long FAILED "
                                   "when their process cannot be checked from this machine", low=0.0)
