"""Start-up of the two long-running processes a user starts: `accidents serve` until /readyz answers
200 (warm: the champion from the API's bundle cache, as after a restart), and `dg dev` until the
webserver reports the `accidents` code location LOADED. Whole processes, launch to ready."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.adapters.fixtures import CHAMPION_LAKE, champion_lake
from bench.adapters.process import BIN, cli

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 180
LOCATIONS_QUERY = json.dumps({"query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                                       "locationOrLoadError { __typename } } } } }"}).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(ready, proc: subprocess.Popen, started: float, what: str) -> float:
    """Seconds from `started` until `ready()` is true; raises if the process exits or the deadline passes."""
    while time.perf_counter() - started < DEADLINE_S:
        try:
            if ready():
                return time.perf_counter() - started
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}) before it was ready")
        time.sleep(0.02)
    raise RuntimeError(f"{what} not ready after {DEADLINE_S} s")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def serve_startup(work_dir: str, quick: bool = False) -> dict:
    """`accidents serve` launch -> /readyz 200. The warm-up run fills the champion cache, so the
    recorded runs are warm starts (a restarted API)."""
    data = champion_lake(work_dir, **CHAMPION_LAKE["quick" if quick else "full"])
    port = _free_port()
    env = {**os.environ, "ACCIDENTS_DATA_DIR": str(data), "ACCIDENTS_CATALOG": "sqlite"}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.perf_counter()
    proc = subprocess.Popen(cli("serve", "--port", str(port), "--log-level", "warning"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return response.status == 200

    try:
        seconds = _wait_until(ready, proc, started, "accidents serve")
        cpu = _process_cpu_seconds(proc.pid)
    finally:
        _stop(proc)
    warm = (data / "serving" / "champion" / "champion.json").is_file()
    return {"seconds": seconds, "cpu_seconds": cpu, "warm": warm}


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def code_location_load(work_dir: str) -> dict:
    """`dg dev` launch -> the webserver lists the `accidents` code location as LOADED (the daemon and
    the webserver start beside it, as for a user)."""
    home = Path(tempfile.mkdtemp(prefix="dagster-home-", dir=work_dir))
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "ACCIDENTS_DATA_DIR": str(Path(work_dir) / "dg-data"),
           "ACCIDENTS_CATALOG": "sqlite", "VIRTUAL_ENV": str(BIN.parent)}
    started = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "dg"), "dev", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def loaded() -> bool:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=LOCATIONS_QUERY,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=2) as response:
            entries = json.loads(response.read())["data"]["workspaceOrError"]["locationEntries"]
        if any(e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "PythonError" for e in entries):
            raise RuntimeError("the code location failed to load")
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    try:
        seconds = _wait_until(loaded, proc, started, "dg dev")
    finally:
        _stop(proc)
        shutil.rmtree(home, ignore_errors=True)
    return {"seconds": seconds}
