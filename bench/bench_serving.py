"""Benchmark: the risk API under load, on loopback, stopping by itself.

    .venv/bin/python bench/bench_serving.py [--data-dir DIR] [--workers 1 2] [--clients 50] [--seconds 10]

Starts `accidents serve` (a real uvicorn process) over a lake: DIR (e.g. the one `accidents run`
writes; its latest predicted day is used) or, without it, a demo lake built in a temporary folder
with the CLI (ingest, features, train: the intensity champion in MLflow; one predicted day; the
benchmarks' champion lake, bench/adapters/fixtures.py). Measures, for each worker count:
- start-up to ready: process launch until /readyz answers 200 (cold: champion from MLflow; warm:
  champion from the API's bundle cache, i.e. a restart);
- /v1/risk for an hour already in gold.predictions and for a day scored on the fly, with `clients`
  concurrent aiohttp clients for `seconds` each: p50 / p99 latency, requests/s, errors. The first
  on-the-fly request scores the whole day (reported separately); the rest hit the in-memory grid.
The client shares the machine's cores with the server: figures are end-to-end, client included.
Targets (2 cores): predicted hour p50 <= 5 ms and p99 <= 25 ms at 50 clients; on the fly p99 <= 50 ms;
>= 1,000 requests/s with two workers; start-up to ready <= 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PREDICTED_DAY = "2026-03-02"  # the day the demo lake built here predicts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lake_facts(data_dir: Path) -> tuple[dt.date, np.ndarray]:
    """(latest predicted day, road points as (lat, lon) rows) of the lake."""
    from pipeline.core.lake import lake_connection
    from pipeline.core.settings import Settings

    with lake_connection(Settings(data_dir=data_dir), read_only=True) as con:
        day = con.execute("SELECT max(date) FROM gold.predictions WHERE atm = 1").fetchone()[0]
        points = con.execute("SELECT lat, lon FROM silver.road_points").fetchnumpy()
    return day, np.column_stack([points["lat"], points["lon"]])


def start_server(data_dir: Path, workers: int) -> tuple[subprocess.Popen, str, float]:
    import urllib.request

    port = free_port()
    env = {**os.environ, "ACCIDENTS_DATA_DIR": str(data_dir), "ACCIDENTS_CATALOG": "sqlite"}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "accidents"), "serve", "--port", str(port),
                             "--workers", str(workers), "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = started + 120
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - started
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit("accidents serve exited before it was ready")
        time.sleep(0.02)
    proc.terminate()
    raise SystemExit("accidents serve not ready after 120 s")


def wait_verified(url: str, timeout: float = 120.0) -> None:
    """Until the champion in memory is confirmed by the registry: a warm start verifies it in the
    background (importing MLflow), which would otherwise be measured as request latency."""
    import json
    import urllib.request

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        with urllib.request.urlopen(f"{url}/v1/model", timeout=30) as r:
            if json.loads(r.read()).get("verified"):
                return
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): start-up cost independent of how
    busy the shared machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, queries: list[dict], clients: int, seconds: float, rate: float | None = None) -> dict:
    """`clients` concurrent clients for `seconds`: closed loop (each sends as soon as answered: the
    saturation throughput) or, with `rate`, paced to `rate` requests/s in total (open-loop latency)."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def client(offset: int) -> None:
            nonlocal errors
            i = offset
            interval = clients / rate if rate else 0.0
            next_at = time.perf_counter() + offset * interval / clients
            while time.perf_counter() < stop_at:
                if interval:
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                    next_at += interval
                started = time.perf_counter()
                async with session.get(f"{url}/v1/risk", params=queries[i % len(queries)]) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)
                i += clients

        began = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - began
    ms = np.array(latencies) * 1000
    return {"requests": len(ms), "errors": errors, "rps": len(ms) / elapsed,
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def first_request_ms(url: str, query: dict) -> float:
    import urllib.parse
    import urllib.request

    started = time.perf_counter()
    with urllib.request.urlopen(f"{url}/v1/risk?{urllib.parse.urlencode(query)}", timeout=120) as r:
        r.read()
    return (time.perf_counter() - started) * 1000


def queries_for(points: np.ndarray, day: dt.date, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(points), n)
    hours = rng.integers(0, 24, n)
    jitter = rng.normal(0, 0.002, (n, 2))  # a few hundred metres off the road point
    return [{"lat": f"{points[i, 0] + dy:.6f}", "lon": f"{points[i, 1] + dx:.6f}", "time": f"{day}T{h:02d}:10"}
            for i, h, (dy, dx) in zip(pick, hours, jitter)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="an existing lake (default: build a synthetic one)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0,
                        help="requests/s of the paced (latency) runs, spread over the clients")
    args = parser.parse_args()

    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        from bench.adapters.fixtures import CHAMPION_LAKE, champion_lake
        from bench.adapters.process import cli, run_measured

        tmp = Path(tempfile.mkdtemp(prefix="bench-serving-"))
        print(f"building a demo lake with its champion and one predicted day in {tmp} ...", flush=True)
        data_dir = champion_lake(str(tmp), **CHAMPION_LAKE["full"])
        run_measured(cli("predict", "--date", PREDICTED_DAY), what="accidents predict",
                     env_extra={"ACCIDENTS_DATA_DIR": str(data_dir), "ACCIDENTS_CATALOG": "sqlite"})
    try:
        day, points = lake_facts(data_dir)
        unpredicted = day + dt.timedelta(days=3)
        shutil.rmtree(data_dir / "serving", ignore_errors=True)  # the first start is a cold one
        print(f"lake {data_dir}: {len(points)} road points, predicted day {day}; on the fly: {unpredicted}")
        print(f"{args.clients} concurrent clients, {args.seconds:g} s per run\n")
        rows = []
        for workers in args.workers:
            proc, url, ready = start_server(data_dir, workers)
            cold_cpu = cpu_seconds(proc.pid)
            stop(proc)
            proc, url, warm_ready = start_server(data_dir, workers)  # restart: champion from the cache
            warm_cpu = cpu_seconds(proc.pid)
            results = {}
            try:
                wait_verified(url)
                asyncio.run(load(url, queries_for(points, day, 200, 0), args.clients, 1.0))  # warm-up
                results["predicted hour, saturated"] = asyncio.run(
                    load(url, queries_for(points, day, 5000, 1), args.clients, args.seconds))
                results[f"predicted hour, paced {args.rate:g}/s"] = asyncio.run(
                    load(url, queries_for(points, day, 5000, 5), args.clients, args.seconds, args.rate))
                first = first_request_ms(url, queries_for(points, unpredicted, 1, 2)[0])
                # every worker scores the day once; warm each before measuring steady state
                asyncio.run(load(url, queries_for(points, unpredicted, 200, 3), args.clients, 2.0))
                results["on the fly (day in memory), saturated"] = asyncio.run(
                    load(url, queries_for(points, unpredicted, 5000, 4), args.clients, args.seconds))
                results[f"on the fly (day in memory), paced {args.rate:g}/s"] = asyncio.run(
                    load(url, queries_for(points, unpredicted, 5000, 6), args.clients, args.seconds, args.rate))
            finally:
                stop(proc)
            rows.append((workers, ready, warm_ready, cold_cpu, warm_cpu, results, first))
        print("| workers | scenario | requests | errors | req/s | p50 ms | p99 ms |")
        print("|---|---|---|---|---|---|---|")
        for workers, _, _, _, _, results, first in rows:
            for name, r in results.items():
                print(f"| {workers} | {name} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | "
                      f"{r['p50']:.1f} | {r['p99']:.1f} |")
            print(f"| {workers} | on the fly, first request (scores the whole day) | 1 | 0 | | {first:.0f} | |")
        print("\n| workers | start-up to ready, cold / warm (s) | CPU of the serving process to ready, cold / warm (s) |")
        print("|---|---|---|")
        for workers, ready, warm_ready, cold_cpu, warm_cpu, _, _ in rows:
            cpu = f"{cold_cpu:.2f} / {warm_cpu:.2f}" if workers == 1 else "(in worker processes)"
            print(f"| {workers} | {ready:.2f} / {warm_ready:.2f} | {cpu} |")
        os.system("uptime")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
