"""Training benchmarks on the demo world, each stage as `accidents train` runs it
(pipeline.usecases.training.train_and_register):

- candidates (the product): the intensity competition with its default candidates and trials (the
  hotspot map, the Poisson GLM, CatBoost/LightGBM/XGBoost on the GLM tuned by Optuna, the blend) on
  the newest year, the champion refitted, logged and registered; the time of each candidate;
- reference (the predecessor's protocol, `accidents train --protocol reference`): 3 case-control
  classifiers x N Optuna trials on the 80/20 split of silver.features_reference (tuning, refit, test,
  MLflow logging). Issue 13's target: 3 x 50 trials <= 60 s; issue 22's: the candidates together in
  less time than this protocol's three studies at the chain's 20 trials.

Sources: `demo` (default) generates the demo world of `--world-seed` and builds its silver layer
(~20-40 s, not timed: bench.replication.prepare_seed); `synthetic` (reference only) writes a
scale-1-sized synthetic silver.features (1,700 positives x (1 + 20) negatives over 2019-2024). Usage:
    .venv/bin/python bench/bench_train.py candidates [--trials 10] [--candidates ...] [--world-seed 1]
    .venv/bin/python bench/bench_train.py [reference] [--trials 50] [--source demo|synthetic] [--workers N]
Importable: `measure_candidates(...)`, `measure_training(...)` -> dict, for the `python -m bench` driver.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# as `accidents train` does: OpenMP threads sleep when idle instead of spinning (set before import)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_SECONDS = 60.0  # issue 13: 3 classifiers x 50 trials on the demo, 2 cores, median
ALGORITHMS = ("catboost", "lightgbm", "xgboost")


def _synthetic_module():
    # the generator lives with the gold tests; load it by path (tests/ is not a package)
    spec = importlib.util.spec_from_file_location("gold_synthetic", ROOT / "tests" / "gold" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def prepare_lake(work_dir: Path, *, source: str = "demo", world_seed: int = 1, scale: float = 1.0,
                 positives: int = 1700, ratio: int = 20, points: int = 150):
    """A lake in `work_dir` with the silver layer training reads -> its Settings (connection closed).
    Sources: the demo world; `synthetic`, the reference protocol's synthetic features; `world`, a
    synthetic world of `points` road points for the candidates (bench/synthetic_world.py)."""
    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings

    if source == "demo":
        from bench.replication import prepare_seed

        # the replication's preparation: demo world -> bronze -> roads -> weather -> silver
        settings, con, _ = prepare_seed(work_dir, world_seed, scale)
    elif source == "synthetic":
        synthetic = _synthetic_module()
        settings = Settings(data_dir=work_dir)
        con = connect(settings)
        synthetic.write_features(con, synthetic.synthetic_features(positives, ratio, seed=0, samplers=("exclusion",)))
    elif source == "world":
        from bench.synthetic_world import make_world, write_lake

        settings = Settings(data_dir=work_dir)
        con = connect(settings)
        write_lake(con, make_world(points, world_seed))
    else:
        raise ValueError(f"source={source!r}: expected demo, synthetic or world")
    con.close()
    return settings


def _warm_imports() -> None:
    """The learning libraries, Optuna and MLflow are imported before the clock starts (an import costs
    seconds when bytecode is not cached; a long-lived process pays it once)."""
    import catboost  # noqa: F401
    import lightgbm  # noqa: F401
    import mlflow  # noqa: F401
    import optuna  # noqa: F401
    import xgboost  # noqa: F401


def _say(progress: bool):
    return (lambda message: print(message, file=sys.stderr, flush=True)) if progress else None


def measure_candidates(*, candidates=None, trials: int | None = None, threads: int | None = None, seed: int = 42,
                       world_seed: int = 1, scale: float = 1.0, source: str = "demo", points: int = 150,
                       progress: bool = False, work_dir: Path | None = None) -> dict:
    """One timed `accidents train` (the intensity protocol, TrainParams' defaults unless given) on a
    fresh lake (the demo world, or a synthetic world of `points` road points: source="world"): the
    competition, the champion's refit, MLflow logging and registration."""
    from pipeline.gold.params import TrainParams
    from pipeline.usecases.training import train_and_register

    _warm_imports()
    defaults = TrainParams()
    params = TrainParams(protocol="intensity", candidates=tuple(candidates or defaults.candidates),
                         trials=trials or defaults.trials, threads=threads, seed=seed)
    with tempfile.TemporaryDirectory(prefix="bench-candidates-") as tmp:
        settings = prepare_lake(Path(work_dir or tmp), source=source, world_seed=world_seed, scale=scale, points=points)
        load_before = os.getloadavg()[0]
        started, cpu0 = time.perf_counter(), time.process_time()
        (summary,) = train_and_register(settings, params, progress=_say(progress))
        total, cpu = time.perf_counter() - started, time.process_time() - cpu0
    return {
        "candidates": list(params.candidates), "trials": params.trials, "seed": seed, "world_seed": world_seed,
        "source": source, "scale": scale, "data_end": summary.data_end, "fit_years": list(summary.fit_years),
        "champion": summary.champion, "champion_kind": summary.champion_kind,
        "per_candidate": {r.name: {"seconds": r.seconds, "kind": r.kind, "loglik_per_accident": r.loglik_per_accident,
                                   "expected_observed": r.expected / r.observed if r.observed else None,
                                   "calibrated": r.calibrated} for r in summary.candidates},
        "competition_seconds": summary.fit_seconds, "registration_seconds": total - summary.fit_seconds,
        "total_seconds": total, "cpu_seconds": cpu, "cpus": os.cpu_count(), "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def measure_training(*, source: str = "demo", trials: int = 50, algorithms=ALGORITHMS, sampler: str = "exclusion",
                     threads: int | None = None, workers: int | None = None, seed: int = 42, world_seed: int = 1,
                     positives: int = 1700, ratio: int = 20, progress: bool = False,
                     work_dir: Path | None = None) -> dict:
    """One timed reference training (`accidents train --protocol reference`: tuning, refit, test,
    MLflow logging and registration) on a fresh lake; its gold datasets are built before the clock.

    `threads` / `workers` None: the training's defaults (pipeline.gold.modeling.parallelism.parallelism).
    Returns plain figures: `total_seconds` (the stage), `tuning_seconds` (Optuna trials only),
    per algorithm `seconds_per_trial`, `cpu_seconds`, validation/test metrics, and the load average."""
    from pipeline.gold.params import TrainParams
    from pipeline.usecases.training import build_gold_datasets, train_and_register

    _warm_imports()
    params = TrainParams(protocol="reference", algorithms=tuple(algorithms), trials=trials, sampler=sampler,
                         threads=threads, workers=workers, seed=seed)
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        settings = prepare_lake(Path(work_dir or tmp), source=source, world_seed=world_seed, positives=positives,
                                ratio=ratio)
        rows = build_gold_datasets(settings, params).rows
        load_before = os.getloadavg()[0]
        started, cpu0 = time.perf_counter(), time.process_time()
        (summary,) = train_and_register(settings, params, progress=_say(progress), build_datasets=False)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu0
    per_algorithm = {
        r.algorithm: {
            "trials": r.trials, "pruned": r.pruned, "best_rounds": r.best_rounds,
            "tuning_seconds": r.tuning_seconds, "seconds_per_trial": r.tuning_seconds / r.trials,
            "seconds": r.seconds, "cpu_seconds": r.cpu_seconds,
            "valid_pr_auc": r.validation_metrics["pr_auc"], "valid_log_loss": r.validation_metrics["log_loss"],
            "test_pr_auc": r.test_metrics["pr_auc"], "test_log_loss": r.test_metrics["log_loss"],
        } for r in summary.results}
    tuning_refit = summary.fit_seconds  # from the training data's load to the last refit
    return {
        "source": source, "protocol": "reference", "sampler": sampler, "trials": trials,
        "threads": summary.threads, "workers": summary.workers, "tune_rows": summary.tune_rows,
        "seed": seed, "world_seed": world_seed, "rows": rows, "best_algorithm": summary.best_algorithm,
        "algorithms": per_algorithm,
        "tuning_seconds": sum(a["tuning_seconds"] for a in per_algorithm.values()),
        "tuning_refit_seconds": tuning_refit, "mlflow_seconds": total - tuning_refit,
        "total_seconds": total, "cpu_seconds": cpu, "target_seconds": TARGET_SECONDS,
        "cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()[0],
    }


def format_reference(figures: dict) -> str:
    lines = [f"{'algorithm':<10} {'trials':>6} {'pruned':>6} {'s/trial':>7} {'seconds':>8} {'cpu_s':>7} "
             f"{'valid_pr_auc':>12} {'valid_logloss':>13} {'test_pr_auc':>11}"]
    for name, a in figures["algorithms"].items():
        lines.append(f"{name:<10} {a['trials']:>6} {a['pruned']:>6} {a['seconds_per_trial']:>7.2f} {a['seconds']:>8.1f} "
                     f"{a['cpu_seconds']:>7.1f} {a['valid_pr_auc']:>12.4f} {a['valid_log_loss']:>13.4f} "
                     f"{a['test_pr_auc']:>11.4f}")
    f = figures
    lines.append(f"tuning {f['tuning_seconds']:.1f}s, tuning+refit {f['tuning_refit_seconds']:.1f}s, MLflow "
                 f"logging/registration {f['mlflow_seconds']:.1f}s, total {f['total_seconds']:.1f}s wall / "
                 f"{f['cpu_seconds']:.1f}s CPU in this process (target {f['target_seconds']:.0f}s for 50 trials x 3; "
                 f"{f['workers']} worker(s) x {f['threads']} thread(s); "
                 f"cpus={f['cpus']}, load {f['load_before']:.1f} -> {f['load_after']:.1f})")
    return "\n".join(lines)


def format_candidates(figures: dict) -> str:
    lines = [f"{'candidate':<10} {'kind':<28} {'seconds':>8} {'valid LL/acc':>12} {'exp/obs':>7}"]
    for name, c in figures["per_candidate"].items():
        ratio = "-" if c["expected_observed"] is None else f"{c['expected_observed']:.2f}"
        lines.append(f"{name:<10} {c['kind']:<28} {c['seconds']:>8.1f} {c['loglik_per_accident']:>12.3f} {ratio:>7}"
                     + ("  <- champion" if name == figures["champion"] else ""))
    f = figures
    lines.append(f"competition (fits, validation, champion's refit) {f['competition_seconds']:.1f}s, MLflow logging/"
                 f"registration {f['registration_seconds']:.1f}s, total {f['total_seconds']:.1f}s wall / "
                 f"{f['cpu_seconds']:.1f}s CPU ({f['trials']} trials per boosted candidate; validation year "
                 f"{f['data_end']}; cpus={f['cpus']}, load {f['load_before']:.1f} -> {f['load_after']:.1f})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("protocol", nargs="?", default="reference", choices=["candidates", "reference"],
                        help="default %(default)s (the commands in bench/findings.md's history)")
    parser.add_argument("--trials", type=int, default=None, help="default: 10 (candidates), 50 (reference)")
    parser.add_argument("--threads", type=int, default=None, help="threads per model fit (default: the training's)")
    parser.add_argument("--seed", type=int, default=42, help="tuning seed")
    parser.add_argument("--world-seed", type=int, default=1, help="demo world seed")
    parser.add_argument("--candidates", default=None, help="candidates protocol: comma list (default: all)")
    parser.add_argument("--scale", type=float, default=1.0, help="candidates protocol: demo scale")
    parser.add_argument("--source", default="demo", choices=["demo", "synthetic", "world"],
                        help="demo (default); synthetic (reference protocol); world (candidates: a synthetic world)")
    parser.add_argument("--points", type=int, default=150, help="road points of --source world")
    parser.add_argument("--workers", type=int, default=None, help="reference protocol: classifiers tuned at once")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS), help="reference protocol")
    parser.add_argument("--sampler", default="exclusion", choices=["exclusion", "uniform"], help="reference protocol")
    parser.add_argument("--positives", type=int, default=1700, help="synthetic source")
    parser.add_argument("--ratio", type=int, default=20, help="synthetic source")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args()

    if args.protocol == "candidates":
        figures = measure_candidates(
            candidates=[c for c in (args.candidates or "").split(",") if c] or None, trials=args.trials,
            threads=args.threads, seed=args.seed, world_seed=args.world_seed, scale=args.scale, source=args.source,
            points=args.points, progress=not args.quiet)
        print(format_candidates(figures))
    else:
        figures = measure_training(
            source=args.source, trials=args.trials or 50, algorithms=tuple(a for a in args.algorithms.split(",") if a),
            sampler=args.sampler, threads=args.threads, workers=args.workers, seed=args.seed,
            world_seed=args.world_seed, positives=args.positives, ratio=args.ratio, progress=not args.quiet)
        print(", ".join(f"{k}={v}" for k, v in figures["rows"].items()))
        print(format_reference(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
