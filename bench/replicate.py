"""Replicated backtests of the shipped path on the demo: generator seeds x test years -> one table.

Each (seed, test year) runs `accidents evaluate`'s backtest (see bench/replication.py): the same lag,
years, candidates and trials as `accidents run`. The issue's target set (12 replications):
    .venv/bin/python bench/replicate.py --seeds 1,2,3,4 --test-years 2022,2023,2024
Reduced:
    .venv/bin/python bench/replicate.py --seeds 1 --test-years 2024 --trials 2
Writes replication_{runs,champions,timings}.csv and replication_table.txt into --out.
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
    from bench.replication import ReplicationConfig, run_replication, write_outputs
    from pipeline.core.errors import AccidentsError
    from pipeline.gold.params import BOOSTED_TRIALS, CANDIDATES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4")
    parser.add_argument("--test-years", default="2022,2023,2024")
    parser.add_argument("--lag", type=int, default=None, help="publication lag (default: the shipped path's)")
    parser.add_argument("--trials", type=int, default=BOOSTED_TRIALS)
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--bootstrap", type=int, default=1000, help="day-bootstrap replicates per evaluation")
    parser.add_argument("--work-dir", default=None, help="lakes and demo worlds (default: a temporary folder)")
    parser.add_argument("--out", default="data/replication", help="output folder (default %(default)s)")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="replicate-") as tmp:
            config = ReplicationConfig(
                work_dir=Path(args.work_dir or tmp), seeds=_ints(args.seeds), test_years=_ints(args.test_years),
                lag=args.lag, trials=args.trials, candidates=[c.strip() for c in args.candidates.split(",") if c.strip()],
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
