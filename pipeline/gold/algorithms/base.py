"""What every algorithm provides to tuning, training, scoring, storage and MLflow.

Every fit returns a native booster, so what is stored or logged is never a pickle. `fit` early-stops
on the validation rows and calls `report(iteration, value)` every REPORT_EVERY rounds; when `report`
returns True the fit stops and `Pruned` is raised (Optuna pruning). A study builds its native inputs
once (`fit_data`) and every trial fits on them: LightGBM's binned Dataset and XGBoost's histogram
index are computed on the first fit and reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MAX_ROUNDS = 300
EARLY_STOPPING = 30
REPORT_EVERY = 10
THREADS = 2

Report = Callable[[int, float], bool]


class ModelLayout(Protocol):
    """What an algorithm reads of a risk model (pipeline.gold.model_bundle.RiskModel is one): its
    feature columns in stored order, the codes of its categorical ones and, once trained, its booster.
    Declared here, below the bundle, so that the algorithms need not import the bundle that uses them."""

    booster: Any
    feature_columns: list[str]
    categorical_codes: dict[str, dict[str, int]]

    @property
    def categorical_columns(self) -> list[str]: ...


class Pruned(Exception):
    """The trial's intermediate validation score told the pruner to stop."""


@dataclass(frozen=True)
class FitData:
    """One algorithm's native inputs for a set of fits on the same rows."""

    train: Any  # what the library trains on
    valid: Any | None = None  # what it evaluates while boosting (early stopping, pruning)
    valid_matrix: Any | None = None  # what `predict` takes for the validation rows


class Algorithm:
    name: str
    model_file: str  # native file name inside a model bundle
    # native validation metric per objective (same direction as the objective)
    native_metric: dict[str, str]
    mlflow_flavour: str  # module of the MLflow flavour, e.g. "mlflow.lightgbm"
    requirement: str  # the pip distribution that provides the library

    def suggest_params(self, trial) -> dict[str, Any]:
        """Optuna search space. Modest spaces keep one trial around a second on ~36k rows, 2 threads."""
        raise NotImplementedError

    def fit(self, template: ModelLayout, params: dict[str, Any], data: FitData, *,
            metric: str, seed: int, rounds: int, report: Report | None, threads: int):
        """Train one native booster on `data` (early stopping when it has validation rows)
        -> (booster, rounds used)."""
        raise NotImplementedError

    def fit_data(self, template: ModelLayout, X_train, y_train, X_valid=None, y_valid=None) -> FitData:
        """Native inputs of encoded frames, reusable by any number of fits (default: `native_input`,
        which already carries the labels and predicts too)."""
        valid = None if X_valid is None else self.native_input(template, X_valid, y_valid)
        return FitData(self.native_input(template, X_train, y_train), valid, valid)

    def native_input(self, model: ModelLayout, encoded: pd.DataFrame, label: np.ndarray | None = None):
        """What the library's train/predict API expects for an encoded frame (default: a float
        matrix with unknown categories as NaN)."""
        matrix = encoded.to_numpy(dtype=float)
        cat_idx = [i for i, c in enumerate(model.feature_columns) if c in model.categorical_codes]
        matrix[:, cat_idx] = np.where(matrix[:, cat_idx] < 0, np.nan, matrix[:, cat_idx])
        return matrix

    def predict(self, booster, data) -> np.ndarray:
        """Positive-class probability on the training (case-control) scale."""
        return np.asarray(booster.predict(data), dtype=float)

    def save(self, booster, path: Path) -> None:
        booster.save_model(str(path))

    def load(self, path: Path):
        raise NotImplementedError

    def importance(self, model: ModelLayout) -> dict[str, float]:
        """Gain-style importance per feature column (0 for features never split on)."""
        raise NotImplementedError

    def mlflow_log_kwargs(self) -> dict[str, Any]:
        return {}

    def train(self, template: ModelLayout, params: dict[str, Any], X_train, y_train, X_valid=None, y_valid=None,
              *, objective: str = "pr_auc", seed: int = 42, rounds: int = MAX_ROUNDS,
              report: Report | None = None, threads: int = THREADS):
        """`fit` with the native validation metric of `objective` -> (booster, rounds used).

        `threads`: OpenMP threads per fit. 2 suits a dedicated 2-core box; on an oversubscribed
        machine 1 is far faster (OpenMP barriers spin while the other thread waits for a core)."""
        return self.train_on(template, params, self.fit_data(template, X_train, y_train, X_valid, y_valid),
                             objective=objective, seed=seed, rounds=rounds, report=report, threads=threads)

    def train_on(self, template: ModelLayout, params: dict[str, Any], data: FitData, *, objective: str = "pr_auc",
                 seed: int = 42, rounds: int = MAX_ROUNDS, report: Report | None = None, threads: int = THREADS):
        """`train` on native inputs built beforehand by `fit_data` (a tuning study builds them once)."""
        return self.fit(template, params, data, metric=self.native_metric[objective], seed=seed, rounds=rounds,
                        report=report, threads=threads)
