"""The whole chain in production mode: `accidents run` on a PostgreSQL catalog with Parquet on S3, MLflow
with its backend store in PostgreSQL and its artifacts in the same S3 server; then the duckdb CLI reads
every table with the statements `accidents lake attach-sql` prints."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time

import pytest

from pipeline.core.lake import connect, list_tables
from pipeline.core.settings import Settings
from tests.live.conftest import BIN, S3_KEY, S3_SECRET, lake_env

pytestmark = pytest.mark.slow


def test_accidents_run_on_postgres_s3_and_an_mlflow_server(postgres_server, s3_server, mlflow_server, tmp_path):
    prefix = f"chain-{tmp_path.name}"
    env = {**lake_env(tmp_path / "data", postgres_server.new_database(), s3_server.endpoint, prefix),
           "MLFLOW_TRACKING_URI": mlflow_server.uri}
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "accidents"), "run", "--trials", "2"], env={**os.environ, **env},
                          cwd=tmp_path, capture_output=True, text=True, timeout=1500)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    print(f"\nproduction chain (accidents run --trials 2): {elapsed:.0f} s")
    assert S3_SECRET not in done.stdout + done.stderr

    con = connect(Settings.from_env(env), read_only=True)
    tables = dict(list_tables(con))
    current_files = con.execute("SELECT count(*) FROM __ducklake_metadata_lake.ducklake_data_file "
                                "WHERE end_snapshot IS NULL").fetchone()[0]
    con.close()
    for layer in ("bronze", "silver", "gold"):
        assert any(name.startswith(f"{layer}.") and rows > 0 for name, rows in tables.items()), layer
    assert tables["gold.predictions"] > 0 and tables["bronze.accidents"] > 400

    # Every layer read back by the duckdb CLI with the printed statements (secrets via getenv()).
    attach = subprocess.run([str(BIN / "accidents"), "lake", "attach-sql"], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120, check=True).stdout
    assert env["ACCIDENTS_S3_SECRET_ACCESS_KEY"] not in attach
    counts = "".join(f"SELECT '{name}', count(*) FROM {name};\n" for name in tables)
    cli = subprocess.run([str(BIN / "duckdb"), "-csv", "-noheader"], input=attach + counts, env={**os.environ, **env},
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    read = {line.split(",")[0]: int(line.split(",")[1]) for line in cli.stdout.split() if "," in line}
    assert read == tables

    # The Parquet objects, listed by the S3 API under the configured prefix, one folder per layer.
    keys = s3_server.keys(f"{prefix}/")
    assert all(key.endswith(".parquet") for key in keys) and len(keys) >= current_files
    assert {key.split("/")[1] for key in keys} == {"bronze", "silver", "gold"}

    # MLflow: finished runs and a champion in the PostgreSQL backend store, artifacts in S3.
    import mlflow
    import psycopg

    client = mlflow.MlflowClient(mlflow_server.uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=1000)
    assert runs and {run.info.status for run in runs} == {"FINISHED"}
    assert client.get_model_version_by_alias("accidents-risk-988", "champion") is not None
    with psycopg.connect(mlflow_server.backend_url) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == len(runs)
        for table in ("params", "tags"):  # the S3 credentials never become run parameters or tags
            leaked = db.execute(f"SELECT count(*) FROM {table} WHERE value LIKE %s OR value LIKE %s",
                                [f"%{S3_SECRET}%", f"%{S3_KEY}%"]).fetchone()[0]
            assert leaked == 0, table
    artifacts = s3_server.keys("mlflow-artifacts/")
    assert any(key.endswith(".cbm") for key in artifacts) and any(key.endswith(".png") for key in artifacts)

    _two_predictions_at_once_while_the_duckdb_cli_reads(env, attach, tables["gold.predictions"])


def _two_predictions_at_once_while_the_duckdb_cli_reads(env: dict[str, str], attach: str, per_day: int) -> None:
    """Two `accidents predict` for different days commit together; a duckdb CLI reader polls meanwhile.
    No error, no lost write: each day ends with exactly the rows of the day `accidents run` predicted."""
    days = [(dt.date(2025, 3, 1) + dt.timedelta(days=i)).isoformat() for i in range(2)]
    full_env = {**os.environ, **env}
    writers = [subprocess.Popen([str(BIN / "accidents"), "predict", "--date", day], env=full_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for day in days]
    reads = 0
    while any(w.poll() is None for w in writers):
        reader = subprocess.run([str(BIN / "duckdb"), "-csv", "-noheader"], env=full_env, capture_output=True,
                                text=True, timeout=120,
                                input=attach + "SELECT count(*) FROM gold.predictions;\n")
        assert reader.returncode == 0, reader.stderr
        assert int(reader.stdout.split()[-1]) >= per_day  # a committed state, never a partial one
        reads += 1
    outputs = [w.communicate() for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [err[-2000:] for _, err in outputs]
    con = connect(Settings.from_env(env), read_only=True)
    counts = dict(con.execute("SELECT CAST(date AS VARCHAR), count(*) FROM gold.predictions GROUP BY 1").fetchall())
    con.close()
    assert reads >= 1
    assert {day: counts.get(day) for day in days} == {day: per_day for day in days}
    assert sum(counts.values()) == 3 * per_day  # tomorrow's rows (from accidents run) untouched
