"""Measure benchmarks: each run in its own worker process, a warm-up first, then `repeats` runs.

A run's peak memory is the maximum resident set size that wait4 reports for its worker process (the
largest process of its tree when the adapter starts the CLI), so figures never mix benchmarks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.registry import Benchmark
from bench.worker import MARKER

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class RunOutcome:
    wall_s: float
    peak_mb: float
    cpu_s: float  # user + system CPU of the process tree: far less inflated by a busy machine than wall time
    figures: dict | None
    error: str | None


def worker_env() -> dict[str, str]:
    """The caller's environment with Python's bytecode cache on, as on a user's machine: with
    PYTHONDONTWRITEBYTECODE set, every process recompiles the sources of every library it imports
    (measured here: importing mlflow + sklearn + lightgbm 22 s instead of 8 s under load)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_worker(target: str, params: dict, *, timeout_s: float, env: dict[str, str] | None = None) -> RunOutcome:
    """One worker process: its figures, wall time and peak RSS (MB), or the error that ended it."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.TemporaryDirectory(prefix="bench-partial-") as scratch:
        partial_path = Path(scratch) / "partial.json"
        env = {**(env or worker_env()), "BENCH_PARTIAL": str(partial_path)}
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bench.worker", target, json.dumps(params)],
                                cwd=ROOT, stdout=out, stderr=err, env=env, start_new_session=True)
        status, usage, timed_out = None, None, False
        while status is None:
            pid, status_, usage_ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status, usage = status_, usage_
            elif time.perf_counter() - started > timeout_s:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker's own session: it and its children
                _, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
            else:
                time.sleep(0.05)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        partial = json.loads(partial_path.read_text()) if partial_path.is_file() else None
    peak_mb = usage.ru_maxrss / 1024  # Linux reports KiB
    cpu_s = usage.ru_utime + usage.ru_stime
    if timed_out:
        kept = "; figures of the steps done before it are kept" if partial else ""
        return RunOutcome(wall, peak_mb, cpu_s, partial, f"timed out after {timeout_s:.0f} s{kept}")
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(stderr.strip().splitlines()[-3:]) or f"exit code {proc.returncode}"
        return RunOutcome(wall, peak_mb, cpu_s, None, tail[-600:])
    return RunOutcome(wall, peak_mb, cpu_s, json.loads(lines[-1][len(MARKER):]), None)


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def measure(bench: Benchmark, *, quick: bool, repeats: int, work_dir: Path, timeout_s: float,
            progress=print) -> dict:
    """Warm-up (unrecorded: it also builds the benchmark's cached inputs), then the recorded runs."""
    params = {**(bench.quick if quick else bench.full), "work_dir": str(work_dir)}
    n_runs = 1 if quick or bench.heavy else repeats
    warm_up = bench.warm_up and not (quick or bench.heavy)
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    load = os.getloadavg()
    runs: list[RunOutcome] = []
    error = None
    for i in range(n_runs + warm_up):
        outcome = run_worker(bench.adapter, params, timeout_s=timeout_s)
        label = "warm-up" if warm_up and i == 0 else f"run {len(runs) + 1}/{n_runs}"
        if outcome.error:
            progress(f"  {bench.name} {label}: FAILED ({outcome.error})")
            error = outcome.error
            if outcome.figures and label != "warm-up":
                runs.append(outcome)  # a timed-out run's steps done so far
            break
        progress(f"  {bench.name} {label}: {bench.headline(outcome.figures)} ({outcome.wall_s:.1f} s wall, "
                 f"peak {outcome.peak_mb:.0f} MB)")
        if label != "warm-up":
            runs.append(outcome)
    result = {"name": bench.name, "group": bench.group, "title": bench.title, "params": bench.quick if quick else bench.full,
              "started_at": started_at, "load_average": [round(x, 2) for x in load], "quick": quick,
              "runs": len(runs), "warm_up": warm_up, "error": error,
              "metric": bench.metric, "unit": bench.unit, "target": bench.target_text(),
              "figures": {}, "peak_mb": None, "wall_s": None, "cpu_s": None, "met": None}
    if not runs:
        return result
    numeric = {k for k in runs[0].figures if isinstance(runs[0].figures[k], (int, float))
               and not isinstance(runs[0].figures[k], bool)}
    result["figures"] = {k: summarise([r.figures[k] for r in runs]) for k in sorted(numeric)}
    result["info"] = {k: v for k, v in runs[0].figures.items() if k not in numeric}
    result["peak_mb"] = summarise([r.peak_mb for r in runs])
    result["wall_s"] = summarise([r.wall_s for r in runs])
    result["cpu_s"] = summarise([r.cpu_s for r in runs])
    result["met"] = False if error else bench.met(result)
    return result
