"""Training: 3 algorithms x N Optuna trials (tuning, refit, MLflow logging) on the demo world's silver
layer (bench/bench_train.py `measure_training`; the --quick run uses its small synthetic features)."""

from __future__ import annotations


def train(work_dir: str, trials: int, source: str = "demo", positives: int = 1700, ratio: int = 20,
          threads: int | None = None, workers: int | None = None, algorithms: str = "catboost,lightgbm,xgboost") -> dict:
    from bench.bench_train import measure_training

    figures = measure_training(source=source, trials=trials, algorithms=tuple(algorithms.split(",")),
                               threads=threads, workers=workers, positives=positives, ratio=ratio)
    flat = {"total_s": figures["total_seconds"], "tuning_s": figures["tuning_seconds"],
            "mlflow_s": figures["mlflow_seconds"], "cpu_s": figures["cpu_seconds"], "trials": trials,
            "workers": figures["workers"], "threads": figures["threads"],
            "rows": ", ".join(f"{k}={v}" for k, v in figures["rows"].items())}
    for name, a in figures["algorithms"].items():
        flat[f"{name}_s"] = a["seconds"]
        flat[f"{name}_s_per_trial"] = a["seconds_per_trial"]
        flat[f"{name}_cpu_s"] = a["cpu_seconds"]
        flat[f"{name}_pruned"] = a["pruned"]
        flat[f"{name}_valid_pr_auc"] = a["valid_pr_auc"]
    return flat
