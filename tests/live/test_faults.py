"""Faults on the production lake (PostgreSQL catalog + S3 on loopback), each met by a real `accidents`
process: S3 stopped mid-stage, PostgreSQL restarted between and during a stage, a writer killed with
SIGKILL, wrong credentials. What must hold: one-line errors naming the server or setting, table sets
never half written, the next run succeeds, no orphaned file after `lake maintain`, no secret printed."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from pipeline.core.lake import connect, current_snapshot, list_tables
from pipeline.core.settings import Settings
from tests.gold.test_run_owner import HOLD_A_RUN
from tests.live.conftest import (BIN, BUCKET, S3_SECRET, MLflowServer, PostgresServer, WeedServer, _postgres_bindir,
                                 _require_weed, lake_env, process_env)

pytestmark = pytest.mark.slow
YEARS = "2023-2024"  # two demo years keep each stage short


@pytest.fixture(scope="module")
def own_s3(tmp_path_factory):
    """An S3 server of this module only, so that stopping it disturbs no other test."""
    _require_weed()
    server = WeedServer(tmp_path_factory.mktemp("weed"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL server of this module only, so that restarting it disturbs no other test."""
    server = PostgresServer(_postgres_bindir())
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def lake(own_s3, own_postgres, tmp_path_factory):
    """A production lake with bronze and silver built once: (env, its tables and row counts). Each
    fault test leaves it as it found it (the re-run after the fault rebuilds the same tables)."""
    env = lake_env(tmp_path_factory.mktemp("lake") / "data", own_postgres.new_database(), own_s3.endpoint,
                   "faults")
    ok(env, "ingest", "--years", YEARS)
    ok(env, *features(env))
    return env, state(env)[1]


def accidents(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "accidents"), *args], env=process_env(env), capture_output=True,
                          text=True, timeout=timeout)


def ok(env: dict[str, str], *args: str) -> str:
    done = accidents(env, *args)
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-3000:]
    return done.stdout


def interrupted(env: dict[str, str], args: list[str], trigger: str, action: Callable[[subprocess.Popen], None]
                ) -> tuple[int, str, str]:
    """Run `accidents ARGS`, call `action(process)` when a stdout line contains `trigger`, and wait."""
    proc = subprocess.Popen([str(BIN / "accidents"), *args], env=process_env(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if trigger in line:
            action(proc)
            break
    out, err = proc.communicate(timeout=600)
    return proc.returncode, "".join(lines) + out, err


def state(env: dict[str, str]) -> tuple[int, dict[str, int]]:
    con = connect(Settings.from_env(env), read_only=True)
    try:
        return current_snapshot(con), dict(list_tables(con))
    finally:
        con.close()


def features(env: dict[str, str]) -> list[str]:
    """`accidents features` on the demo's own roads file (as `accidents run` passes it): no download."""
    from pipeline.sources.select import demo_files_dir

    settings = Settings.from_env(env)
    return ["features", "--roads-file", str(demo_files_dir(settings, settings.seed, 1.0) / "roads.osm")]


def one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err[-3000:]
    return lines[0]


def test_s3_stopped_mid_stage_fails_on_one_line_keeps_the_tables_and_reruns(own_s3, lake):
    env, complete = lake

    code, _, err = interrupted(env, features(env), "road_points:", lambda _: own_s3.stop())
    assert code == 2
    line = one_line_error(err)
    assert f"http://{own_s3.endpoint}" in line and S3_SECRET not in err

    print(f"\nS3 stopped mid-stage: {line}")
    own_s3.start()
    # Every table keeps its row count: the sets committed before S3 went away are complete and equal
    # to the previous ones (same inputs), the feature set in flight never became visible.
    assert state(env)[1] == complete
    ok(env, *features(env))
    assert state(env)[1] == complete


def test_postgres_restarted_between_and_during_a_stage(own_postgres, lake):
    env, complete = lake
    own_postgres.restart()  # between stages: the next process simply connects again
    ok(env, *features(env))
    assert state(env)[1] == complete

    code, _, err = interrupted(env, features(env), "road_points:", lambda _: own_postgres.restart())
    if code != 0:  # the stage lost its catalog connection: a clean, one-line failure
        line = one_line_error(err)
        print(f"\nPostgreSQL restarted mid-stage: {line}")
        assert "ACCIDENTS_PG_DSN" in line
    else:
        print("\nPostgreSQL restarted mid-stage: the stage reconnected and finished")
    assert state(env)[1] == complete  # same tables and row counts: nothing half written
    ok(env, *features(env))
    assert state(env)[1] == complete


def test_sigkill_mid_transaction_then_rerun_and_maintain_leave_no_orphans(own_s3, lake):
    env, complete = lake

    code, _, _ = interrupted(env, features(env), "sampling:", lambda proc: proc.send_signal(signal.SIGKILL))
    assert code == -signal.SIGKILL
    # readers see complete table sets, at the previous snapshot or the new one
    assert state(env)[1] == complete

    ok(env, *features(env))
    assert state(env)[1] == complete
    report = ok(env, "lake", "maintain", "--orphan-grace-minutes", "0", "--stale-run-hours", "0")
    assert report.splitlines()[0].startswith("before:") and report.splitlines()[-1].startswith("after:")

    con = connect(Settings.from_env(env))
    orphans = con.execute("CALL ducklake_delete_orphaned_files('lake', dry_run => true, cleanup_all => true)")
    assert orphans.fetchall() == []
    tracked = con.execute("SELECT count(*) FROM __ducklake_metadata_lake.ducklake_data_file").fetchone()[0]
    tracked += con.execute("SELECT count(*) FROM __ducklake_metadata_lake.ducklake_delete_file").fetchone()[0]
    con.close()
    assert len(own_s3.keys("faults/")) == tracked  # every object in the bucket is a file the catalog knows


@pytest.fixture(scope="module")
def own_mlflow(own_postgres, own_s3, tmp_path_factory):
    """An MLflow server of this module only: the FAILED run it leaves must not reach the production chain's
    check that every run of the shared server finished."""
    server = MLflowServer(tmp_path_factory.mktemp("mlflow"), own_postgres.url(own_postgres.new_database("mlflow")),
                          own_s3.endpoint, f"s3://{BUCKET}/mlflow-artifacts")
    server.start()
    yield server
    server.stop()


def test_a_run_killed_inside_mlflow_is_marked_failed_by_maintain_a_concurrent_one_is_not(
        own_s3, own_postgres, own_mlflow, tmp_path):
    """Training opens its MLflow run only to log the fitted models (seconds): a process killed there
    leaves the run RUNNING. A process that starts a run as training does (owner tags) and SIGKILLs
    itself is exactly that state, without racing a real training for the window; a second one holds
    its run open like a training still logging on this machine."""
    env = {**lake_env(tmp_path / "data", own_postgres.new_database(), own_s3.endpoint, "mlflow-kill"),
           "MLFLOW_TRACKING_URI": own_mlflow.uri}

    def hold(mode: str) -> tuple[subprocess.Popen, str]:
        proc = subprocess.Popen([sys.executable, "-c", HOLD_A_RUN, own_mlflow.uri, mode], env=process_env(env),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return proc, proc.stdout.readline().strip()

    killed, killed_id = hold("kill")
    assert killed.wait(120) == -signal.SIGKILL
    concurrent, concurrent_id = hold("hold")
    import mlflow

    client = mlflow.MlflowClient(own_mlflow.uri)
    try:
        assert client.get_run(killed_id).info.status == "RUNNING"
        out = ok(env, "lake", "maintain")  # default cutoff (12 h): the dead owner is known at once
        assert "marked 1 stale MLflow runs FAILED" in out
        assert client.get_run(killed_id).info.status == "FAILED"
        assert client.get_run(concurrent_id).info.status == "RUNNING"
    finally:
        concurrent.communicate("", timeout=120)
    assert client.get_run(concurrent_id).info.status == "FINISHED"


def test_wrong_or_missing_credentials_name_the_setting_and_never_print_the_secret(s3_server, postgres_server, tmp_path):
    marker = "SECRET-MARKER-9d2e"
    env = lake_env(tmp_path / "data", postgres_server.new_database(), s3_server.endpoint, "creds")
    wrong = accidents({**env, "ACCIDENTS_S3_SECRET_ACCESS_KEY": marker}, "ingest", "--years", YEARS)
    line = one_line_error(wrong.stderr)
    assert "ACCIDENTS_S3_SECRET_ACCESS_KEY" in line and marker not in wrong.stdout + wrong.stderr

    missing = accidents({k: v for k, v in env.items() if k != "ACCIDENTS_S3_SECRET_ACCESS_KEY"}, "tables")
    assert "ACCIDENTS_S3_SECRET_ACCESS_KEY is not set" in one_line_error(missing.stderr)

    no_role = env["ACCIDENTS_PG_DSN"].replace("user=postgres", "user=nobody") + f" password={marker}"
    refused = accidents({**env, "ACCIDENTS_PG_DSN": no_role}, "tables")
    line = one_line_error(refused.stderr)
    assert "ACCIDENTS_PG_DSN" in line and marker not in refused.stdout + refused.stderr


def test_s3_objects_are_checksummed_and_a_damaged_one_is_named(own_s3, lake):
    """Checksums cover S3 objects too: `lake verify` reads each back with the lake's secret; a damaged
    object is listed by table and file, `lake maintain` refuses to rewrite it; restored, all is sound."""
    env, _ = lake
    assert "all sound" in ok(env, "lake", "verify")
    client = own_s3.client()
    key = sorted(k for k in own_s3.keys("faults/") if "/bronze/accidents/" in k)[0]
    original = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0xFF
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(damaged))
    try:
        done = accidents(env, "lake", "verify")
        assert done.returncode == 1
        assert f"DAMAGED bronze.accidents file s3://{BUCKET}/{key} (snapshot" in done.stdout, done.stdout
        assert "content does not match its checksum" in done.stdout
        refused = accidents(env, "lake", "maintain")
        line = one_line_error(refused.stderr)
        assert line.startswith("error: lake maintain refused to rewrite a damaged file: bronze.accidents file")
    finally:
        client.put_object(Bucket=BUCKET, Key=key, Body=original)
    assert "all sound" in ok(env, "lake", "verify")


def test_a_catalog_restart_is_recognised_by_the_servers_state_not_by_words(own_postgres, lake):
    """The 23-line traceback of issue 21 (`Failed to commit: Failed to execute query "ROLLBACK"`, whose
    words name no lost connection) is one line once the server is known restarted since the process
    met it: a fresh connection asks its start time."""
    import duckdb

    from pipeline.core.lake import server_error
    from pipeline.core.lake.failures import catalog_lost

    env, _ = lake
    settings = Settings.from_env(env)
    connect(settings, read_only=True).close()  # meets the server: its start time is remembered
    unknown = duckdb.TransactionException('Failed to commit: Failed to execute query "ROLLBACK"')
    assert not catalog_lost(settings) and server_error(settings, unknown) is None  # a bug keeps its traceback
    own_postgres.restart()
    assert catalog_lost(settings)
    line = str(server_error(settings, unknown))
    assert line.startswith("PostgreSQL catalog host=127.0.0.1") and "(ACCIDENTS_PG_DSN) failed: Failed to commit" in line
    connect(settings, read_only=True).close()  # a new open after the restart: known again, not lost
    assert not catalog_lost(settings)
