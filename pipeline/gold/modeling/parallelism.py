"""How many algorithms the reference protocol tunes at once, and with how many threads each."""

from __future__ import annotations

from pipeline.core.cores import usable_cores
from pipeline.core.errors import AccidentsError

# Below this many rows x trials per algorithm, tuning takes less time than starting worker processes
# (each imports pandas and the three libraries, ~5 s here): the algorithms are tuned in this process.
PARALLEL_MIN_ROW_TRIALS = 200_000


def check_parallelism(workers: int | None, threads: int | None) -> None:
    for name, value in (("workers", workers), ("threads", threads)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise AccidentsError(f"{name}={value!r}: expected a positive integer")


def parallelism(workers: int | None, threads: int | None, algorithms: int,
                cpus: int | None = None, row_trials: int | None = None) -> tuple[int, int]:
    """(workers, threads per fit), each given or filled so that workers x threads <= cores: one
    algorithm per process first (single-threaded fits on small data do not wait on each other at every
    split: 3 x 50 demo trials in 36 s instead of 81 s on 2 cores), the cores left over as threads.
    LightGBM and XGBoost fit the same models whatever the thread count; CatBoost's can differ in the
    last digits, which can flip a pruning decision and send the study elsewhere (bench/findings.md),
    so the resolved values are logged with the run. `row_trials` (tuning rows x trials): a small
    tuning gets one worker unless workers are given."""
    check_parallelism(workers, threads)
    cpus = max(1, cpus or usable_cores())
    if workers is None and row_trials is not None and row_trials < PARALLEL_MIN_ROW_TRIALS:
        workers = 1
    if workers is None:
        workers = max(1, min(algorithms, cpus // (threads or 1)))
    if threads is None:
        threads = max(1, cpus // min(workers, algorithms))
    return workers, threads
