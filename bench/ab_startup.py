"""Start-up of the code at another git revision against this tree, alternating runs in one environment
(so that load and caches fall on both alike): `accidents --help`, `accidents predict --help` and
`import dagster_accidents.definitions`, each a whole process.

    .venv/bin/python bench/ab_startup.py --before 5083ca0 [--runs 11]

The other revision is exported with `git archive` into a temporary folder and put first on PYTHONPATH;
the installed packages are this environment's for both.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "accidents --help": "import sys; sys.argv = ['accidents', '--help']; from pipeline.cli import main; main()",
    "accidents predict --help": "import sys; sys.argv = ['accidents', 'predict', '--help']; "
                                "from pipeline.cli import main; main()",
    "import dagster_accidents.definitions": "import dagster_accidents.definitions",
}


def export_revision(revision: str, folder: Path) -> Path:
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def time_process(code: str, tree: Path) -> float:
    # bytecode caches on, as in the benchmarks (this machine's shells may set PYTHONDONTWRITEBYTECODE)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="git revision to compare with this tree")
    parser.add_argument("--runs", type=int, default=11, help="recorded runs of each command and tree (default 11)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": export_revision(args.before, Path(tmp)), "after": ROOT}
        times = {(name, side): [] for name in COMMANDS for side in trees}
        for run in range(args.runs + 1):  # run 0 warms the bytecode caches and is not recorded
            for name, code in COMMANDS.items():
                for side, tree in trees.items():
                    seconds = time_process(code, tree)
                    if run:
                        times[(name, side)].append(seconds)
    print(f"{args.runs} runs each, load average {os.getloadavg()[0]:.1f} at the end")
    for name in COMMANDS:
        figures = []
        for side in trees:
            t = times[(name, side)]
            figures.append(f"{side} {statistics.median(t):.3f} s [{min(t):.3f}-{max(t):.3f}]")
        print(f"{name}: " + ", ".join(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
