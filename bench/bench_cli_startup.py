"""`accidents --help` start-up time (target: under 1 s). Usage: .venv/bin/python bench/bench_cli_startup.py"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

exe = Path(sys.executable).with_name("accidents")
times = []
for _ in range(7):
    started = time.perf_counter()
    subprocess.run([str(exe), "--help"], capture_output=True, check=True)
    times.append(time.perf_counter() - started)
print(f"accidents --help: median {statistics.median(times):.3f} s, max {max(times):.3f} s over {len(times)} runs")
