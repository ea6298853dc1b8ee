"""Fill an empty lake through Dagster, then switch the schedules on: what a fresh deployment runs once.

    python -m dagster_accidents.bootstrap [--trials 10] [--candidates hotspot,glm,lightgbm,...]
                                          [--grpc-host accidents] [--grpc-port 3030] [--location accidents]

For each configured département: `ingest_job` for every year partition (the backfill), then
`all_assets_job` (roads, silver, datasets, training, evaluation), then `daily_predictions_job` for
tomorrow (--trials and --candidates go to both the training and its backtest, as the CLI's `accidents
run` passes them; by default the shipped ones); each run executes in this process and is recorded in the instance of DAGSTER_HOME (the
production instance in the bootstrap Job, `k8s/bootstrap/job.yaml`), so the UI shows them like any
other run. The code server must answer first (checked before anything is written): both processes
create the instance's storage on first use, and a fresh instance created by two at once breaks one of
them. Then every schedule of the deployed code location (reached through its gRPC server, so
that the daemon's code location is the one switched on) is started with `dagster schedule start`.
A failed run stops the bootstrap with its step's one-line cause and a non-zero exit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from dagster_accidents.definitions import defs
from dagster_accidents.failures import step_failures
from dagster_accidents.partitions import SETTINGS, baac_years, dep_day_key, dep_year_key
from dagster_accidents.schedules import next_day_partition


def _run(job: dg.JobDefinition, instance: dg.DagsterInstance, partition: str, run_config: dict | None = None) -> None:
    print(f"bootstrap: {job.name} [{partition}] ...", flush=True)
    result = job.execute_in_process(instance=instance, partition_key=partition, run_config=run_config or {},
                                    tags={"accidents/trigger": "bootstrap"}, raise_on_error=False)
    if not result.success:
        causes = "; ".join(f"{f.step}: {f.cause}" for f in step_failures(instance, result.run_id)) or "no cause"
        raise SystemExit(f"bootstrap: error: {job.name} [{partition}] failed (run {result.run_id}): {causes}")


def fill_lake(instance: dg.DagsterInstance, *, trials: int | None, candidates: list[str] | None) -> None:
    chosen = {k: v for k, v in (("trials", trials), ("candidates", candidates)) if v is not None}
    model_ops = ("gold__trained_models", "gold__evaluation")
    model_config = {"ops": {op: {"config": chosen} for op in model_ops}} if chosen else None
    for dep in SETTINGS.departments:
        for year in baac_years.get_partition_keys():
            _run(defs.get_job_def("ingest_job"), instance, str(dep_year_key(dep, year)))
        _run(defs.get_job_def("all_assets_job"), instance, dep, model_config)
        timezone = SETTINGS.for_departments(dep).department.timezone
        tomorrow = next_day_partition(dt.datetime.now(dt.UTC), timezone)
        _run(defs.get_job_def("daily_predictions_job"), instance, str(dep_day_key(dep, tomorrow)))


def wait_for_code_server(host: str, port: int, *, timeout: float = 300.0, pause: float = 2.0) -> None:
    """Wait until the code server answers `dagster api grpc-health-check`, or stop with a clear error."""
    dagster = Path(sys.executable).with_name("dagster")
    deadline = time.monotonic() + timeout
    while True:
        check = subprocess.run([str(dagster), "api", "grpc-health-check", "--host", host, "--port", str(port)],
                               capture_output=True, text=True, env=os.environ)
        if check.returncode == 0:
            return
        if time.monotonic() >= deadline:
            raise SystemExit(f"bootstrap: error: the code server at {host}:{port} did not answer within "
                             f"{timeout:.0f} s (--grpc-host/--grpc-port; is the code location deployed?)")
        time.sleep(pause)


def start_schedules(host: str, port: int, location: str, *, attempts: int = 5, pause: float = 10.0) -> None:
    """`dagster schedule start --start-all` against the deployed code server, retried while the server
    cannot answer (starting, restarting or busy)."""
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "workspace.yaml"
        workspace.write_text(f"load_from:\n  - grpc_server:\n      host: {host}\n      port: {port}\n"
                             f"      location_name: {location}\n")
        dagster = Path(sys.executable).with_name("dagster")
        for attempt in range(1, attempts + 1):
            done = subprocess.run([str(dagster), "schedule", "start", "--start-all", "-w", str(workspace)],
                                  capture_output=True, text=True, env=os.environ)
            if done.returncode == 0:
                print(f"bootstrap: {done.stdout.strip()}", flush=True)
                return
            if attempt < attempts:
                time.sleep(pause)
    tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
    raise SystemExit(f"bootstrap: error: could not start the schedules of {location} at {host}:{port} "
                     f"({attempts} attempts): {tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagster_accidents.bootstrap", description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=None, help="Optuna trials per boosted candidate (default: TrainParams')")
    parser.add_argument("--candidates", default=None, help="comma list of the intensity candidates (default: all)")
    parser.add_argument("--grpc-host", default="accidents", help="the code server's host (default: accidents)")
    parser.add_argument("--grpc-port", type=int, default=3030)
    parser.add_argument("--location", default="accidents", help="the code location's name in the workspace")
    parser.add_argument("--no-schedules", action="store_true", help="fill the lake only")
    args = parser.parse_args(argv)
    if not args.no_schedules:
        wait_for_code_server(args.grpc_host, args.grpc_port)
    with dg.DagsterInstance.get() as instance:
        fill_lake(instance, trials=args.trials,
                  candidates=args.candidates.split(",") if args.candidates else None)
    if not args.no_schedules:
        start_schedules(args.grpc_host, args.grpc_port, args.location)
    print("bootstrap: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
