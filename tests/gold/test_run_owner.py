"""MLflow runs left RUNNING: those of dead processes are marked FAILED (at once when the process was on
this machine, after a cutoff otherwise); the run of a training still running never is."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.gold import run_owner
from pipeline.gold.params import TrainParams
from pipeline.gold.run_owner import fail_dead_runs, owner_tags
from pipeline.usecases.training import train_and_register

HOUR_MS = 3_600_000


def _tags_of(pid: int, **override: str) -> dict[str, str]:
    here = owner_tags()
    return {**here, run_owner.PID_TAG: str(pid), run_owner.STARTED_TAG: run_owner._start_ticks(pid), **override}


@pytest.fixture
def store(tmp_path):
    import mlflow

    from pipeline.gold.registry import ensure_experiment

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_id = ensure_experiment(uri, "owners")
    return uri, experiment_id, mlflow.MlflowClient(uri)


def test_dead_owners_are_failed_live_and_unknown_young_ones_kept(store):
    uri, experiment_id, client = store
    now_ms = int(time.time() * 1000)
    finished = subprocess.Popen(["true"])
    finished.wait()
    live = subprocess.Popen(["sleep", "120"])
    try:
        cases = {
            # owner on this machine: its liveness decides, whatever the age
            "killed here": (_tags_of(finished.pid), now_ms, "FAILED"),
            "pid reused": (_tags_of(os.getpid(), **{run_owner.STARTED_TAG: "1"}), now_ms, "FAILED"),
            "alive here, old": (_tags_of(live.pid), now_ms - 48 * HOUR_MS, "RUNNING"),
            "this process": (owner_tags(), now_ms - 48 * HOUR_MS, "RUNNING"),
            # a container sharing the host name but not the PID namespace cannot be checked from here
            "other namespace": (_tags_of(finished.pid, **{run_owner.MACHINE_TAG: "x|pid:[1]"}), now_ms, "RUNNING"),
            # owner elsewhere or unknown: the cutoff decides
            "other pod, young": (_tags_of(finished.pid, **{run_owner.HOST_TAG: "run-pod-7f"}), now_ms, "RUNNING"),
            "other pod, old": (_tags_of(live.pid, **{run_owner.HOST_TAG: "run-pod-7f"}), now_ms - 13 * HOUR_MS,
                               "FAILED"),
            "untagged, young": ({}, now_ms, "RUNNING"),
            "untagged, old": ({}, now_ms - 13 * HOUR_MS, "FAILED"),
        }
        ids = {name: client.create_run(experiment_id, start_time=start, tags=tags, run_name=name).info.run_id
               for name, (tags, start, _) in cases.items()}
        ended = client.create_run(experiment_id, start_time=now_ms - 48 * HOUR_MS).info.run_id
        client.set_terminated(ended, status="FINISHED")

        marked = fail_dead_runs(uri, older_than=dt.datetime.now(dt.UTC) - dt.timedelta(hours=12))

        status = {name: client.get_run(run_id).info.status for name, run_id in ids.items()}
        assert status == {name: expected for name, (_, _, expected) in cases.items()}
        assert marked == 4
        assert client.get_run(ended).info.status == "FINISHED"
    finally:
        live.kill()
        live.wait()


def test_no_store_yet_is_left_uncreated(tmp_path):
    db = tmp_path / "mlflow.db"
    assert fail_dead_runs(f"sqlite:///{db}", older_than=dt.datetime.now(dt.UTC)) == 0
    assert not db.exists()


# A process that opens an MLflow run as training does, then SIGKILLs itself (argv[2] == "kill") or holds
# the run open until its stdin closes (a training still logging). Used by tests/live too.
HOLD_A_RUN = """
import os, signal, sys, mlflow
from pipeline.gold.registry import ensure_experiment
from pipeline.gold.run_owner import owner_tags
ensure_experiment(sys.argv[1], 'accidents-988')
run = mlflow.start_run(run_name='candidates-2024', tags=owner_tags())
print(run.info.run_id, flush=True)
if sys.argv[2] == 'kill':
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.read()
mlflow.end_run()
"""


def _hold_run(uri: str, mode: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_A_RUN, uri, mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


@pytest.mark.slow  # one small training (~15 s)
def test_a_training_fails_the_run_of_a_killed_training_but_not_of_a_concurrent_one(tmp_path):
    import mlflow

    from pipeline.core.lake import connect
    from pipeline.core.settings import Settings
    from tests.support.intensity import fitted_world, write_world

    settings = Settings(data_dir=tmp_path)
    con = connect(settings)
    write_world(con, fitted_world()[0])
    con.close()  # the training opens the lake itself
    uri = settings.resolved_mlflow_uri
    killed, killed_id = _hold_run(uri, "kill")
    assert killed.wait(60) == -signal.SIGKILL
    concurrent, concurrent_id = _hold_run(uri, "hold")
    try:
        client = mlflow.MlflowClient(uri)
        assert client.get_run(killed_id).info.status == "RUNNING"  # what a killed training leaves

        train_and_register(settings, TrainParams(candidates=("hotspot", "glm"), trials=1, threads=1))

        assert client.get_run(killed_id).info.status == "FAILED"
        assert client.get_run(concurrent_id).info.status == "RUNNING"
        own = client.search_runs([client.get_experiment_by_name(settings.experiment).experiment_id],
                                 "tags.model_family = 'intensity'")
        assert len(own) == 3 and {run.info.status for run in own} == {"FINISHED"}  # the parent, one per candidate
        assert all(run.data.tags[run_owner.PID_TAG] == str(os.getpid()) for run in own)
    finally:
        concurrent.communicate("", timeout=60)
    assert client.get_run(concurrent_id).info.status == "FINISHED"
