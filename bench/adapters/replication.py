"""Replicated backtests of the shipped path: `bench/replicate.py` as a user runs it (one process,
launch to exit), with the headline figures of its table (bench.replication.headline_figures)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.adapters.process import run_measured

ROOT = Path(__file__).resolve().parents[2]


def replicate(work_dir: str, seeds: str, test_years: str, trials: int | None = None, candidates: str | None = None,
              scale: float | None = None, bootstrap: int | None = None, lag: int | None = None) -> dict:
    """None for an option: replicate.py's default (the shipped path's candidates, trials and lag)."""
    import pandas as pd

    from bench.replication import ReplicationResult, headline_figures

    options = {"--trials": trials, "--candidates": candidates, "--scale": scale, "--bootstrap": bootstrap,
               "--lag": lag}
    with tempfile.TemporaryDirectory(prefix="replicate-", dir=work_dir) as tmp:
        out = Path(tmp) / "out"
        args = [sys.executable, str(ROOT / "bench" / "replicate.py"), "--seeds", seeds, "--test-years", test_years,
                "--work-dir", str(Path(tmp) / "work"), "--out", str(out),
                *(str(x) for name, value in options.items() if value is not None for x in (name, value))]
        done = run_measured(args, what="bench/replicate.py")
        runs, champions = (pd.read_csv(out / f"replication_{name}.csv") for name in ("runs", "champions"))
    result = ReplicationResult(runs, champions, done.seconds)
    counts = champions["champion"].fillna("none").value_counts()
    return {"seconds": done.seconds, "minutes": done.seconds / 60, "process_peak_mb": done.peak_mb,
            "seconds_per_replication": done.seconds / max(len(champions), 1), **headline_figures(result),
            "seeds": seeds, "test_years": test_years, "champions": ", ".join(f"{k} {v}" for k, v in counts.items())}
