"""What an evaluation found: the summary the stage returns and the report reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.evaluation.metrics import CalibrationSummary


@dataclass
class EvaluationSummary:
    model_name: str
    champion: str | None  # the backtest competition's winner (None: no calibrated candidate)
    champion_kind: str | None
    test_year: int
    data_end: int  # D: the newest year the backtest's candidates saw
    lag: int
    n_points: int
    n_hours: int
    observed_accidents: int
    metrics: dict[str, dict[str, float]]  # method -> metric -> value
    calibration: dict[str, CalibrationSummary]  # method -> summary
    curves: dict[str, np.ndarray]  # method -> hit rate at CURVE_FRACTIONS of cell-hours
    baseline_params: dict[str, Any]
    timings: dict[str, float]
    validation: dict[str, dict[str, float]] = field(default_factory=dict)  # candidate -> its validation figures
    table: str = ""
    figures: list[Path] = field(default_factory=list)
    rows_written: int = 0
    notes: list[str] = field(default_factory=list)
    # method -> expected accidents per hour of the test year (summed over points): calibration by slice
    hourly_expected: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    hourly_observed: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_rows(self) -> int:
        return self.n_points * self.n_hours
