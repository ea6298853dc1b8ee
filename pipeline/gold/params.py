"""Parameters of the gold stages: datasets + training, evaluation, predictions and the map."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipeline.core.params import Params, param
from pipeline.gold import algorithms

OBJECTIVES = ("pr_auc", "logloss", "recall")
# Row caps of a training (see pipeline.gold.modeling.data.fit_rows), chosen from timings at scale 200
# (bench/findings.md): the demo's ~27k rows are far below them, so nothing is sampled there.
TUNE_ROWS = 50_000
REFIT_ROWS = 1_000_000
MIN_ROWS_CAP = 1_000
PROTOCOLS = ("temporal", "reference", "both")
SAMPLERS = ("exclusion", "uniform")


@dataclass(frozen=True)
class TrainParams(Params):
    trials: int = param(20, "Optuna trials per algorithm", low=1, high=10_000)
    objective: str = param("pr_auc", "validation objective of the tuning", choices=OBJECTIVES)
    algorithms: tuple[str, ...] = param(algorithms.names(), "algorithms to tune", choices=algorithms.names())
    protocol: str = param("temporal", "temporal (by year, honest; may become champion) | reference (the "
                                      "predecessor's 80/20 split, never champion) | both", choices=PROTOCOLS)
    sampler: str = param("uniform", "negative sampler: uniform (calibratable) | exclusion (the predecessor's)",
                         choices=SAMPLERS)
    seed: int | None = param(None, "random seed (default: ACCIDENTS_SEED or 42)", kind="int", low=0)
    timeout: float | None = param(None, "seconds of tuning per algorithm at most", kind="float", low=1.0)
    threads: int | None = param(None, "threads per model fit (default: the cores left per worker, "
                                      "workers x threads <= cores)", kind="int", low=1, high=64)
    workers: int | None = param(None, "algorithms tuned at once, each in its own process (default: one per "
                                      "core, at most one per algorithm: 2 x 1 thread on 2 cores; 1 when "
                                      "tuning rows x trials < 200,000)",
                                kind="int", low=1, high=16)
    tune_rows: int | None = param(TUNE_ROWS, "Optuna trials fit on a random sample of at most this many rows "
                                             "(every positive while they are at most half; by label and year)",
                                  kind="int", low=MIN_ROWS_CAP)
    refit_rows: int | None = param(REFIT_ROWS, "the final models fit on at most this many rows (at the tuning "
                                               "sample's label mix once the trials are sampled)", kind="int", low=MIN_ROWS_CAP)
    test_size: float = param(0.2, "reference protocol: share of rows in the random test split", low=0.05, high=0.5)

    @property
    def protocols(self) -> tuple[str, ...]:
        return ("reference", "temporal") if self.protocol == "both" else (self.protocol,)


@dataclass(frozen=True)
class EvaluateParams(Params):
    sampler: str = param("both", "which sampler's temporal model to evaluate", choices=(*SAMPLERS, "both"))
    test_year: int = param(2024, "held-out year", low=2005, high=2100)
    valid_year: int | None = param(None, "year choosing the KDE bandwidth (default: test year - 1)", kind="int",
                                   low=2005, high=2100)
    model: str = param("champion", "'champion' (the latest temporal version per sampler) or a VERSION number")
    history_cutoff: dt.date | None = param(None, "history features use accidents before this date "
                                                 "(default: 1 January of the test year)", kind="date")
    atm: int | None = param(None, "BAAC weather code for every hour (default: each hour's recorded weather at its "
                                  "nearest station)", kind="int", low=1, high=9)
    truth: str | None = param(None, "demo truth folder for the oracle (default: the source's own)", kind="str")
    figures: str | None = param(None, "folder for the PNG figures (default: <data dir>/evaluation)", kind="str")
    log_mlflow: bool = param(True, "log the evaluation to MLflow")


# A weather scenario: a BAAC code for every hour, or each hour's forecast at its nearest station.
SCENARIOS = (*(str(code) for code in range(1, 10)), "forecast")


@dataclass(frozen=True)
class PredictParams(Params):
    atm: str = param("1", "weather scenario: BAAC code 1 normal, 2 light rain, 3 heavy rain, 5 fog..., or "
                          "forecast (each hour's Open-Meteo forecast at the nearest station; stored as atm 0)",
                     choices=SCENARIOS)
    model: str = param("champion", "'champion' or a registered model VERSION number")


@dataclass(frozen=True)
class MapParams(Params):
    atm: str = param("1", "weather scenario of the predicted day (BAAC code or forecast)", choices=SCENARIOS)
    top_n: int = param(3, "show the N riskiest points of each hour", low=1, high=10)
    threshold: float | None = param(None, "show point-hours at or above this percentile instead of the top N",
                                    kind="float", low=0.0, high=100.0)
