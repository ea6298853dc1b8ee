"""The yardstick: a fixed, deterministic, single-threaded CPU workload timed at the start of every
`python -m bench` run, so that figures from two hosts can be compared.

The same benchmark differs by 1.5x between two quiet hosts of the same kind (issue 22), so a report
states each timed figure and target also as a multiple of this workload's time on the same host.
The work resembles ours, one part per kind of cost in the pipeline:
- sort: numpy's sort of a year's 11 M float32 cell-hours and look-ups in it (the metrics' ranking);
- design: penalised Newton steps, X' W X and X' r on a 300,000 x 60 design (the GLM);
- grid: outer products of point and hour rates through exp, summed by rows (expected counts);
- trees: a LightGBM Poisson fit, 1 thread, 100 rounds on 40,000 x 12 rows (the boosted candidates);
- python: dictionaries and string keys in the interpreter (Optuna, pandas glue, the CLI).
Each part runs `repeats` times; the yardstick is the sum of each part's fastest run (the least
disturbed), so short bursts of other work on a shared machine inflate it little. BLAS and OpenMP are
held to one thread by the environment the runner gives this process (`SINGLE_THREAD_ENV`), so the
figure measures one core, whatever the host's core count.

`fingerprint` hashes the parts' results: equal fingerprints mean the same work was done (a library
upgrade that changes the work changes it, and the yardstick times are then not comparable).

    .venv/bin/python -m bench.yardstick      # prints the record as JSON
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable

SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
SEED = 20261206
# The yardstick of the host on which the issues' targets were set (a quiet 2-core host of this kind):
# a target of T seconds there is T / REFERENCE_SECONDS yardsticks everywhere. Pinned from the lead's
# quiet run (2026-12-07, load 0.5, three runs 1.08 / 1.10 / 1.15 s: the median).
REFERENCE_SECONDS: float | None = 1.10
REFERENCE_NOTE = "not pinned: set bench.yardstick.REFERENCE_SECONDS from a quiet run of the reference host"


def _sort(rng):
    import numpy as np

    values = rng.random(11_000_000, dtype=np.float32)
    probes = rng.random(200_000, dtype=np.float32)

    def run() -> float:
        ascending = np.sort(values)
        return float(np.searchsorted(ascending, probes).sum() + ascending[::1_000_000].sum())

    return run


def _design(rng):
    import numpy as np

    x = rng.standard_normal((300_000, 60))
    r = rng.standard_normal(300_000)

    def run() -> float:
        theta = np.zeros(60)
        for _ in range(4):
            w = np.exp(np.clip(0.01 * (x @ theta), -5, 5))
            hessian = x.T @ (w[:, None] * x) + np.eye(60)
            theta = theta + np.linalg.solve(hessian, x.T @ (r - w + 1.0))
        return float(theta.sum())

    return run


def _grid(rng):
    import numpy as np

    point = rng.standard_normal(1_500) * 0.5 - 9.0
    hour = rng.standard_normal(8_760) * 0.3

    def run() -> float:
        total = 0.0
        for shift in np.linspace(0.0, 1.0, 10):
            total += float(np.exp(np.add.outer(point, hour + shift)).sum(axis=1).sum())
        return total

    return run


def _trees(rng):
    import lightgbm as lgb
    import numpy as np

    x = rng.standard_normal((40_000, 12))
    rate = np.exp(-1.0 + 0.6 * x[:, 0] - 0.4 * x[:, 1] * (x[:, 2] > 0) + 0.3 * np.sin(3 * x[:, 3]))
    y = rng.poisson(rate)
    params = {"objective": "poisson", "num_leaves": 31, "learning_rate": 0.05, "min_data_in_leaf": 20,
              "num_threads": 1, "deterministic": True, "force_col_wise": True, "seed": 1, "verbose": -1}

    def run() -> float:
        booster = lgb.train(params, lgb.Dataset(x, y, free_raw_data=False), num_boost_round=100)
        return float(booster.predict(x[:1000]).sum())

    return run


def _python(rng):
    keys = [f"k{int(v)}" for v in rng.integers(0, 50_000, 1_000_000)]

    def run() -> float:
        counts: dict[str, int] = {}
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        joined = sorted(f"{k}:{v}" for k, v in counts.items() if v > 5)
        return float(len(joined) + sum(len(s) for s in joined[:1000]))

    return run


PARTS: dict[str, Callable] = {"sort": _sort, "design": _design, "grid": _grid, "trees": _trees, "python": _python}


def measure(repeats: int = 3) -> dict:
    """Run every part `repeats` times: the yardstick's seconds, each part's fastest time, CPU seconds,
    the fingerprint and what the figure depends on (versions, threads, load)."""
    import lightgbm
    import numpy as np

    if repeats < 1:
        raise ValueError(f"repeats={repeats}: expected >= 1")
    load_before = os.getloadavg()[0]
    fastest, results = {}, {}
    cpu_started = time.process_time()
    for name, make in PARTS.items():
        run = make(np.random.default_rng(SEED))
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            results[name] = run()
            times.append(time.perf_counter() - started)
        fastest[name] = min(times)
    cpu = time.process_time() - cpu_started
    digest = hashlib.sha256(json.dumps({k: f"{v:.6g}" for k, v in results.items()}, sort_keys=True).encode())
    return {
        "seconds": sum(fastest.values()), "parts": fastest, "repeats": repeats, "cpu_seconds": cpu,
        "fingerprint": digest.hexdigest()[:12],
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "lightgbm": lightgbm.__version__},
        "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
    }


def in_yardsticks(value: float | None, unit: str, yardstick_s: float | None) -> float | None:
    """A timed figure as a multiple of the yardstick: seconds / yardstick; a rate ('.../s') x yardstick
    (work per yardstick); None for other units or without a yardstick."""
    if value is None or not yardstick_s:
        return None
    if unit == "s":
        return value / yardstick_s
    if unit.endswith("/s"):
        return value * yardstick_s
    return None


def reference_seconds(own: float | None) -> tuple[float | None, bool]:
    """(yardstick seconds the targets are stated against, whether it is the pinned reference): the
    reference host's when pinned, else the report's own."""
    return (REFERENCE_SECONDS, True) if REFERENCE_SECONDS else (own, False)


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
