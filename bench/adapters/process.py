"""Run a command as a child process and measure it: wall seconds and the peak RSS wait4 reports."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent  # the project's virtualenv: `accidents`, `duckdb`


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mb: float  # of this process (or its largest descendant), from wait4
    stdout: str


def run_measured(args: list[str], *, env_extra: dict[str, str] | None = None, stdin: str | None = None,
                 what: str = "") -> Measured:
    """Run `args` to completion; a non-zero exit raises with the command and the end of its stderr."""
    env = {**os.environ, **(env_extra or {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.TemporaryFile("w+") as inp:
        if stdin is not None:
            inp.write(stdin)
            inp.seek(0)
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdin=inp if stdin is not None else subprocess.DEVNULL,
                                stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not every child's
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        tail = " | ".join(stderr.strip().splitlines()[-4:])
        raise RuntimeError(f"{what or ' '.join(args[:3])} exited {proc.returncode}: {tail}")
    return Measured(seconds, usage.ru_maxrss / 1024, stdout)


def cli(*args: str) -> list[str]:
    return [str(BIN / "accidents"), *args]
