"""Which embedded DuckLake catalog lets a DuckDB-CLI user read while a pipeline run writes?

Starts a writer process that commits a small table replacement in a loop for a few seconds, and
meanwhile runs the project's `duckdb` CLI as a reader (read-only attach + count) repeatedly.
Reports, per catalog kind (sqlite, duckdb), reader successes, failures with their first message,
and reader latency. Usage: .venv/bin/python bench/bench_catalog_concurrency.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.core.lake import attach_statements, connect
from pipeline.core.settings import Settings

CLI = Path(sys.executable).with_name("duckdb")


def writer(data_dir: str, catalog: str, seconds: float, ready) -> None:
    settings = Settings(data_dir=Path(data_dir), catalog=catalog)
    con = connect(settings)
    ready.set()
    deadline = time.time() + seconds
    i = 0
    while time.time() < deadline:
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TABLE bronze.t AS SELECT range AS i, {i} AS gen FROM range(20000)")
        con.execute("COMMIT")
        i += 1
    con.close()
    print(f"  writer committed {i} snapshots")


def read_once(settings: Settings) -> tuple[bool, float, str]:
    sql = "\n".join(attach_statements(settings, read_only=True, for_cli=True)) + "\nSELECT count(*) FROM bronze.t;"
    started = time.perf_counter()
    try:
        done = subprocess.run([str(CLI), "-csv", "-noheader"], input=sql, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False, 30.0, "timeout (hang)"
    elapsed = time.perf_counter() - started
    ok = done.returncode == 0 and done.stdout.strip().endswith("20000")
    return ok, elapsed, (done.stderr.strip().splitlines() or [""])[0][:150]


def measure(catalog: str, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), catalog=catalog)
        con = connect(settings)  # create the lake and a first version of the table
        con.execute("CREATE TABLE bronze.t AS SELECT range AS i, 0 AS gen FROM range(20000)")
        con.close()
        ready = mp.Event()
        proc = mp.Process(target=writer, args=(tmp, catalog, seconds, ready))
        proc.start()
        ready.wait(30)
        results = []
        while proc.is_alive():
            results.append(read_once(settings))
        proc.join()
        oks = [r for r in results if r[0]]
        fails = [r for r in results if not r[0]]
        lat = [r[1] for r in oks]
        print(f"catalog={catalog}: {len(oks)} reads ok, {len(fails)} failed"
              + (f", median {statistics.median(lat):.3f} s, max {max(lat):.3f} s" if lat else ""))
        if fails:
            print(f"  first failure: {fails[0][2]!r} after {fails[0][1]:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    for kind in ("sqlite", "duckdb"):
        measure(kind, args.seconds)
