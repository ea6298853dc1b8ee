"""Training on the demo world's silver layer, as `accidents train` runs it (bench/bench_train.py):
the intensity candidates' competition, and the predecessor's reference protocol (3 classifiers x N
Optuna trials; its --quick run uses the small synthetic features)."""

from __future__ import annotations


def reference(work_dir: str, trials: int, source: str = "demo", positives: int = 1700, ratio: int = 20,
              threads: int | None = None, workers: int | None = None,
              algorithms: str = "catboost,lightgbm,xgboost") -> dict:
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


def candidates(work_dir: str, candidates: str | None = None, trials: int | None = None, scale: float = 1.0,
               threads: int | None = None, source: str = "demo", points: int = 150) -> dict:
    """None for candidates / trials: `accidents train`'s defaults; source="world": a synthetic world
    of `points` road points instead of the demo (the --quick run)."""
    from bench.bench_train import measure_candidates

    figures = measure_candidates(candidates=candidates.split(",") if candidates else None, trials=trials,
                                 threads=threads, scale=scale, source=source, points=points)
    flat = {"total_s": figures["total_seconds"], "competition_s": figures["competition_seconds"],
            "mlflow_s": figures["registration_seconds"], "cpu_s": figures["cpu_seconds"], "trials": figures["trials"],
            "candidates": ",".join(figures["candidates"]), "champion": figures["champion"] or "none",
            "validation_year": str(figures["data_end"])}
    for name, c in figures["per_candidate"].items():
        flat[f"{name}_s"] = c["seconds"]
        flat[f"{name}_valid_loglik"] = c["loglik_per_accident"]
    return flat
