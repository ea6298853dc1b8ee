"""Replicated demo evaluation: generator seeds x rolling test years -> one table (means, intervals).

Each (seed, test year) trains on the years before test-1, tunes and recalibrates on test-1 and scores
every road point x hour of the test year (see bench.replication). Full size (the issue's target:
under 30 minutes on 2 cores):
    .venv/bin/python bench/replicate.py --seeds 1,2,3,4,5 --test-years 2022,2023,2024 --trials 20
Reduced:
    .venv/bin/python bench/replicate.py --seeds 1,2 --test-years 2023,2024 --trials 5 --algorithms lightgbm
Writes replication_{runs,effects,slices,timings}.csv and replication_table.txt into --out.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `accidents train`: idle OpenMP threads sleep
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> int:
    from pipeline.core.errors import AccidentsError
    from bench.replication import ReplicationConfig, run_replication, write_outputs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--test-years", default="2022,2023,2024")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--algorithms", default="catboost,lightgbm,xgboost")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bootstrap", type=int, default=1000, help="day-bootstrap replicates per evaluation")
    parser.add_argument("--work-dir", default=None, help="lakes and demo worlds (default: a temporary folder)")
    parser.add_argument("--out", default="data/replication", help="output folder (default %(default)s)")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="replicate-") as tmp:
            config = ReplicationConfig(
                work_dir=Path(args.work_dir or tmp), seeds=_ints(args.seeds), test_years=_ints(args.test_years),
                trials=args.trials, algorithms=[a.strip() for a in args.algorithms.split(",") if a.strip()],
                scale=args.scale, threads=args.threads, bootstrap_replicates=args.bootstrap)
            result = run_replication(config, progress=lambda line: print(line, file=sys.stderr, flush=True))
            paths = write_outputs(result, Path(args.out))
    except AccidentsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.table())
    print(f"written: {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
