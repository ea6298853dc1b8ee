"""Optuna tuning of one algorithm: seeded TPE + median pruning, scored on validation rows only."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from pipeline.gold.model_bundle import RiskModel
from pipeline.gold.algorithms.base import MAX_ROUNDS, REPORT_EVERY, THREADS, Pruned
from pipeline.gold.modeling.data import Rows
from pipeline.gold.modeling.scores import OBJECTIVES, objective_value


@dataclass(frozen=True)
class TuningResult:
    algorithm: str
    best_params: dict[str, Any]
    best_value: float
    best_rounds: int
    trials: int
    pruned: int
    seconds: float


def tune_algorithm(
    template: RiskModel,
    train: Rows,
    valid: Rows,
    *,
    objective: str,
    trials: int,
    seed: int,
    timeout: float | None = None,
    progress: bool = True,
    threads: int = THREADS,
) -> TuningResult:
    """Search `template.algorithm`'s space; each trial fits on `train` and is scored on `valid`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    algorithm = template.algorithm
    y_valid = valid.y
    spec = template.spec
    # native inputs built once for the whole study (binning/quantization is not redone per trial)
    data = spec.fit_data(template, template.encode(train.frame), train.y, template.encode(valid.frame), y_valid)
    study = optuna.create_study(
        direction=OBJECTIVES[objective],
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3 * REPORT_EVERY),
    )
    started = time.perf_counter()

    def run_trial(trial: optuna.Trial) -> float:
        params = spec.suggest_params(trial)

        def report(step: int, value: float) -> bool:
            trial.report(value, step)
            return trial.should_prune()

        try:
            booster, rounds = spec.train_on(template, params, data, objective=objective, seed=seed,
                                            rounds=MAX_ROUNDS, report=report, threads=threads)
        except Pruned:
            raise optuna.TrialPruned() from None
        trial.set_user_attr("rounds", rounds)
        return objective_value(objective, y_valid, spec.predict(booster, data.valid_matrix))

    def show(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if not progress:
            return
        done = trial.number + 1
        value = "pruned" if trial.value is None else f"{trial.value:.4f}"
        try:
            best = f"{study.best_value:.4f}"
        except ValueError:
            best = "-"
        seconds = trial.duration.total_seconds() if trial.duration else 0.0
        print(f"[{algorithm}] trial {done}/{trials} {objective}={value} best={best} {seconds:.1f}s",
              file=sys.stderr, flush=True)

    study.optimize(run_trial, n_trials=trials, timeout=timeout, callbacks=[show],
                   catch=(), gc_after_trial=False)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise RuntimeError(f"{algorithm}: every tuning trial was pruned or failed")
    best = study.best_trial
    return TuningResult(
        algorithm=algorithm,
        best_params=dict(best.params),
        best_value=float(best.value),
        best_rounds=int(best.user_attrs["rounds"]),
        trials=len(study.trials),
        pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        seconds=time.perf_counter() - started,
    )
