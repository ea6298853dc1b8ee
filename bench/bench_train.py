"""Training benchmark: N Optuna trials x 3 algorithms on a scale-1-sized synthetic silver.features.

Scale 1 ~ 1,700 positives x (1 + 20) negatives over 2019-2024. Target: 50 trials x 3 algorithms
within 224 s on 2 cores. Usage:
    .venv/bin/python bench/bench_train.py [--trials 50] [--positives 1700] [--ratio 20] [--threads 2]
Prints seconds per algorithm (tuning + refit), the MLflow logging overhead and the total.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

# as `accidents train` does: OpenMP threads sleep when idle instead of spinning (set before import)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_SECONDS = 224.0


def _synthetic_module():
    # the generator lives with the gold tests; load it by path (tests/ is not a package)
    spec = importlib.util.spec_from_file_location("gold_synthetic", ROOT / "tests" / "gold" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--positives", type=int, default=1700)
    parser.add_argument("--ratio", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--algorithms", default="catboost,lightgbm,xgboost")
    parser.add_argument("--protocol", default="temporal", choices=["temporal", "reference"])
    parser.add_argument("--quiet", action="store_true", help="no per-trial lines")
    args = parser.parse_args()

    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings
    from pipeline.gold.datasets import build_datasets
    from pipeline.gold.training import train_models

    synthetic = _synthetic_module()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        con = connect(settings)
        frame = synthetic.synthetic_features(args.positives, args.ratio, seed=0, samplers=("exclusion",))
        synthetic.write_features(con, frame)
        datasets = build_datasets(con)
        print(f"rows: {len(frame)} ({args.positives} positives x (1+{args.ratio})); "
              + ", ".join(f"{k}={v}" for k, v in datasets.rows.items()), flush=True)
        started = time.perf_counter()
        summary = train_models(con, protocol=args.protocol, algorithms=tuple(args.algorithms.split(",")),
                               trials=args.trials, seed=42, threads=args.threads, progress=not args.quiet,
                               tracking_uri=settings.resolved_mlflow_uri)
        total = time.perf_counter() - started
        con.close()
    tuning = sum(r.seconds for r in summary.results)
    cpu = sum(r.cpu_seconds for r in summary.results)
    print(f"\n{'algorithm':<10} {'trials':>6} {'pruned':>6} {'seconds':>8} {'cpu_s':>7} {'valid_pr_auc':>12} {'test_pr_auc':>11}")
    for r in summary.results:
        print(f"{r.algorithm:<10} {r.trials:>6} {r.pruned:>6} {r.seconds:>8.1f} {r.cpu_seconds:>7.1f} "
              f"{r.validation_metrics['pr_auc']:>12.4f} {r.test_metrics['pr_auc']:>11.4f}")
    print(f"tuning+refit {tuning:.1f}s wall / {cpu:.1f}s CPU, MLflow logging/registration {total - tuning:.1f}s, total {total:.1f}s "
          f"(target {TARGET_SECONDS:.0f}s for 50 trials x 3; cpus={os.cpu_count()}, "
          f"load={os.getloadavg()[0]:.1f})")
    return 0 if total <= TARGET_SECONDS or args.trials != 50 else 1


if __name__ == "__main__":
    sys.exit(main())
