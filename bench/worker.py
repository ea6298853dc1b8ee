"""Runs one benchmark adapter in this (fresh) process and prints its figures as one JSON line.

    python -m bench.worker bench.adapters.cli:help_startup '{"runs": 3}'

The parent (bench.runner) waits for this process with wait4, so the peak memory it records is this
process's own (or that of its largest child process, for adapters that run the CLI).
"""

from __future__ import annotations

import importlib
import json
import os
import sys

MARKER = "BENCH-RESULT "

# as `accidents train`: idle OpenMP threads sleep instead of spinning (set before any library loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def partial(figures: dict) -> None:
    """Record the figures so far (a long adapter calls this after each step): if the run is killed at
    its timeout, the runner keeps them."""
    path = os.environ.get("BENCH_PARTIAL")
    if path:
        with open(path + ".tmp", "w") as f:
            json.dump(figures, f)
        os.replace(path + ".tmp", path)


def main(argv: list[str]) -> int:
    target, params = argv[0], json.loads(argv[1])
    module_name, function_name = target.split(":")
    figures = getattr(importlib.import_module(module_name), function_name)(**params)
    print(MARKER + json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
