"""Parameters of the gold stages: training (the intensity candidates, and the predecessor's reference
reproduction), the backtest evaluation, predictions and the map."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.params import Params, param
from pipeline.gold import algorithms

OBJECTIVES = ("pr_auc", "logloss", "recall")
# Row caps of a training (see pipeline.gold.modeling.data.fit_rows), chosen from timings at scale 200
# (bench/findings.md): the demo's ~27k rows are far below them, so nothing is sampled there.
TUNE_ROWS = 50_000
REFIT_ROWS = 1_000_000
MIN_ROWS_CAP = 1_000
PROTOCOLS = ("intensity", "reference", "both")
# MLflow runs still RUNNING after this long are marked FAILED when their owner cannot be checked from here
# (pipeline.gold.run_owner).
STALE_RUN_HOURS = 12.0
# The intensity candidates (pipeline.gold.intensity.competition): named here so that the CLI's --help
# does not import the models.
CANDIDATES = ("hotspot", "glm", "catboost", "lightgbm", "xgboost", "blend")
BOOSTED_TRIALS = 10
SAMPLERS = ("exclusion", "uniform")


@dataclass(frozen=True)
class TrainParams(Params):
    protocol: str = param("intensity", "intensity (the product: the candidates compete on the newest year's likelihood, "
                                       "the winner becomes champion) | reference (the predecessor's 80/20 case-control "
                                       "reproduction: logged, never published) | both", choices=PROTOCOLS)
    candidates: tuple[str, ...] = param(CANDIDATES, "intensity candidates competing for the champion's place",
                                        choices=CANDIDATES)
    trials: int = param(BOOSTED_TRIALS, "Optuna trials per boosted candidate (and per reference classifier)",
                        low=1, high=10_000)
    seed: int | None = param(None, "random seed (default: ACCIDENTS_SEED or 42)", kind="int", low=0)
    timeout: float | None = param(None, "seconds of tuning per boosted candidate or classifier at most", kind="float",
                                  low=1.0)
    threads: int | None = param(None, "threads per model fit (default: the usable cores; the reference classifiers: "
                                      "the cores left per worker, workers x threads <= cores)", kind="int", low=1, high=64)
    # the reference reproduction's own options
    objective: str = param("pr_auc", "reference protocol: validation objective of the classifiers' tuning",
                           choices=OBJECTIVES)
    algorithms: tuple[str, ...] = param(algorithms.names(), "reference protocol: classifiers to tune",
                                        choices=algorithms.names())
    sampler: str = param("exclusion", "reference protocol: negative sampler (exclusion: the predecessor's)",
                         choices=SAMPLERS)
    workers: int | None = param(None, "reference protocol: classifiers tuned at once, each in its own process "
                                      "(default: one per core; 1 when tuning rows x trials < 200,000)",
                                kind="int", low=1, high=16)
    tune_rows: int | None = param(TUNE_ROWS, "reference protocol: Optuna trials fit on a random sample of at most "
                                             "this many rows", kind="int", low=MIN_ROWS_CAP)
    refit_rows: int | None = param(REFIT_ROWS, "reference protocol: the final classifiers fit on at most this many "
                                               "rows", kind="int", low=MIN_ROWS_CAP)
    test_size: float = param(0.2, "reference protocol: share of rows in the random test split", low=0.05, high=0.5)

    @property
    def protocols(self) -> tuple[str, ...]:
        return ("reference", "intensity") if self.protocol == "both" else (self.protocol,)


@dataclass(frozen=True)
class EvaluateParams(Params):
    test_year: int | None = param(None, "held-out year (default: the newest year in the lake)", kind="int",
                                  low=2005, high=2100)
    lag: int | None = param(None, "publication lag of the backtest: the candidates see the years up to test year - 1 "
                                  "- lag (default: the lag tomorrow's prediction faces)", kind="int", low=0, high=10)
    candidates: tuple[str, ...] = param(CANDIDATES, "candidates of the backtest's competition", choices=CANDIDATES)
    trials: int = param(BOOSTED_TRIALS, "Optuna trials per boosted candidate", low=1, high=10_000)
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
