"""Training: Optuna trials x 3 algorithms on scale-1-sized synthetic features (bench/bench_train.py)."""

from __future__ import annotations


def train(work_dir: str, trials: int, positives: int = 1700, ratio: int = 20, threads: int = 2,
          algorithms: str = "catboost,lightgbm,xgboost") -> dict:
    from bench.bench_train import measure

    figures = measure(trials, positives, ratio, threads, algorithms)
    figures.pop("results")  # objects, not figures
    return figures
