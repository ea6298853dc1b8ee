from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import (CommitConflict, attach_statements, committed, connect, list_tables, one_pass,
                                replace_department_table, replace_table, table_exists, use_department,
                                with_retries, write_department_rows)
from pipeline.core.settings import Settings

PRODUCTION_ENV = {
    "ACCIDENTS_CATALOG": "postgres",
    "ACCIDENTS_PG_DSN": "host=127.0.0.1 port=5432 dbname=lake user=accidents",
    "ACCIDENTS_DATA_PATH": "s3://accidents-lake/prod",
    "ACCIDENTS_S3_ENDPOINT": "127.0.0.1:8333",
    "ACCIDENTS_S3_REGION": "eu-west-3",
    "ACCIDENTS_S3_ACCESS_KEY_ID": "AKEYFORTESTS",
    "ACCIDENTS_S3_SECRET_ACCESS_KEY": "not-a-real-secret-value",
    "ACCIDENTS_S3_URL_STYLE": "path",
    "ACCIDENTS_S3_USE_SSL": "false",
    "ACCIDENTS_DUCKLAKE_RETRIES": "250",
}


def test_embedded_default_is_a_sqlite_catalog_under_the_data_dir(tmp_path):
    settings = Settings.from_env({"ACCIDENTS_DATA_DIR": str(tmp_path)})
    sql = attach_statements(settings)
    assert sql[:2] == ["LOAD ducklake;", "LOAD sqlite;"]
    assert f"ATTACH 'ducklake:sqlite:{tmp_path.resolve()}/lake/catalog.sqlite' AS lake " \
           f"(DATA_PATH '{tmp_path.resolve()}/lake/files/', OVERRIDE_DATA_PATH true);" in sql


def test_production_sql_uses_postgres_s3_and_retries_without_leaking_secrets():
    settings = Settings.from_env(PRODUCTION_ENV)
    in_process = attach_statements(settings)
    assert "LOAD postgres;" in in_process and "LOAD httpfs;" in in_process
    assert "SET ducklake_max_retry_count = 250;" in in_process
    secret = next(s for s in in_process if s.startswith("CREATE OR REPLACE SECRET"))
    for fragment in ("TYPE s3", "KEY_ID 'AKEYFORTESTS'", "REGION 'eu-west-3'", "URL_STYLE 'path'",
                     "USE_SSL false", "ENDPOINT '127.0.0.1:8333'"):
        assert fragment in secret
    assert in_process[-2] == ("ATTACH 'ducklake:postgres:host=127.0.0.1 port=5432 dbname=lake user=accidents' "
                              "AS lake (DATA_PATH 's3://accidents-lake/prod/');")
    printed = "\n".join(attach_statements(settings, read_only=True, for_cli=True))
    assert "not-a-real-secret-value" not in printed and "AKEYFORTESTS" not in printed
    assert "getenv('ACCIDENTS_S3_SECRET_ACCESS_KEY')" in printed
    assert "READ_ONLY" in printed
    assert "not-a-real-secret-value" not in repr(settings)


def test_s3_without_keys_is_a_clear_error():
    env = {k: v for k, v in PRODUCTION_ENV.items() if "KEY" not in k}
    with pytest.raises(AccidentsError, match="ACCIDENTS_S3_ACCESS_KEY_ID is not set"):
        attach_statements(Settings.from_env(env))


@pytest.mark.parametrize("env, message", [
    ({"ACCIDENTS_CATALOG": "oracle"}, "ACCIDENTS_CATALOG='oracle'"),
    ({"ACCIDENTS_CATALOG": "postgres"}, "needs ACCIDENTS_PG_DSN"),
    ({"ACCIDENTS_S3_USE_SSL": "maybe"}, "ACCIDENTS_S3_USE_SSL='maybe'"),
    ({"ACCIDENTS_DUCKLAKE_RETRIES": "many"}, "ACCIDENTS_DUCKLAKE_RETRIES='many'"),
])
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(AccidentsError, match=message):
        Settings.from_env(env)


def test_lake_round_trip_and_duckdb_cli_reads_it_with_printed_sql(tmp_path):
    settings = Settings(data_dir=tmp_path)
    con = connect(settings)
    assert replace_table(con, "bronze.demo", "SELECT range AS i FROM range(25)") == 25
    assert ("bronze.demo", 25) in list_tables(con)
    con.close()
    cli = Path(sys.executable).with_name("duckdb")
    sql = "\n".join(attach_statements(settings, read_only=True, for_cli=True)) + "\nSELECT sum(i) FROM bronze.demo;"
    done = subprocess.run([str(cli), "-csv", "-noheader"], input=sql, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "300"


def test_a_locked_duckdb_catalog_fails_fast_with_a_clear_message(tmp_path):
    settings = Settings(data_dir=tmp_path, catalog="duckdb")
    holder = connect(settings)
    code = ("import sys; from pathlib import Path; from pipeline.core.settings import Settings; "
            "from pipeline.core.lake import connect; from pipeline.core.errors import AccidentsError\n"
            f"try:\n    connect(Settings(data_dir=Path({str(tmp_path)!r}), catalog='duckdb'))\n"
            "except AccidentsError as e:\n    print(e); sys.exit(3)")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert done.returncode == 3, done.stderr
    assert "locked by another process" in done.stdout


@pytest.mark.parametrize("message, retried", [
    ('IO Error: Could not set lock on file "lake.ducklake": Conflicting lock is held in python (PID 7)', False),
    ("TransactionContext Error: Failed to commit: Transaction conflict - attempting to insert", True),
    ("IO Error: database is locked", True),
])
def test_only_a_concurrent_writer_is_retried_not_a_catalog_held_by_another_process(message, retried):
    """A file lock stays held for its holder's whole life: retrying it only delayed the clear error."""
    calls = []

    def action():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(message)
        return "done"

    if retried:
        assert with_retries(action) == "done" and len(calls) == 2
    else:
        with pytest.raises(RuntimeError, match="Conflicting lock"):
            with_retries(action)
        assert len(calls) == 1

def test_a_commit_refused_for_a_concurrent_writers_new_table_is_replayed_from_the_start(tmp_path):
    """Two départements' runs both create a table that did not exist: DuckLake refuses the second
    commit, and `committed` runs the body again, which then finds the table and adds its own slice.
    (Two cursors of one DuckDB-file lake stand for the two runs: an embedded SQLite catalog would
    report "database is locked" instead, and the processes of a PostgreSQL lake are tested live.)"""
    this = connect(Settings(data_dir=tmp_path, catalog="duckdb"))
    other = this.cursor()
    other.execute("USE lake")
    use_department(other, "974")
    tries = []

    def write():
        tries.append(len(tries) + 1)
        table_exists(this, "gold.raced")  # this transaction's view of the catalog is now fixed
        if len(tries) == 1:  # the other run commits the same new table while this transaction is open
            replace_department_table(other, "gold.raced", "SELECT 'other' AS who")
        write_department_rows(this, "gold.raced", "SELECT 'this' AS who")
        return len(tries)

    assert committed(this, write) == 2
    assert sorted(this.execute("SELECT dep, who FROM gold.raced").fetchall()) == [("974", "other"), ("988", "this")]

    def always_conflicts():
        raise CommitConflict("the lake refused the commit: Transaction conflict")

    with pytest.raises(CommitConflict):
        committed(this, always_conflicts, attempts=2)
    this.close(), other.close()


def test_a_failing_body_leaves_the_tables_as_they_were(settings):
    con = connect(settings)
    replace_table(con, "gold.kept", "SELECT 1 AS x")

    def half_done():
        con.execute("DELETE FROM gold.kept")
        raise ValueError("stage failed")

    with pytest.raises(ValueError, match="stage failed"):
        committed(con, half_done)
    assert con.execute("SELECT x FROM gold.kept").fetchall() == [(1,)]
    con.close()

def test_a_block_read_once_is_not_kept_alive_by_the_open_transaction(settings):
    """DuckDB keeps a registered frame alive until COMMIT: a many-block write must not hold every block."""
    import gc
    import weakref

    import numpy as np
    import pyarrow as pa

    con = connect(settings)
    alive = {}

    def write():
        for way in ("registered", "one_pass"):
            values = np.arange(100_000, dtype=np.float64)
            alive[way] = weakref.ref(values)
            block = pa.table({"v": values})  # zero-copy: the block's buffer is `values`
            con.register("_block", block if way == "registered" else one_pass(block))
            con.execute(f"CREATE TABLE gold.{way} AS SELECT * FROM _block")
            con.unregister("_block")
            del values, block
        gc.collect()
        assert alive["registered"]() is not None  # what one_pass is for
        assert alive["one_pass"]() is None

    committed(con, write)
    assert con.execute("SELECT count(*), sum(v) FROM gold.one_pass").fetchone() == (100_000, 4_999_950_000.0)
    con.close()

def test_dagster_executor_setting_is_checked():
    """A parallel executor needs the PostgreSQL catalog: an embedded one admits one writer process."""
    assert Settings.from_env({}).executor == "auto"
    assert Settings.from_env({**PRODUCTION_ENV, "ACCIDENTS_DAGSTER_EXECUTOR": "k8s"}).executor == "k8s"
    with pytest.raises(AccidentsError, match="ACCIDENTS_DAGSTER_EXECUTOR='pods': expected one of auto, in_process"):
        Settings.from_env({"ACCIDENTS_DAGSTER_EXECUTOR": "pods"})
    with pytest.raises(AccidentsError, match="ACCIDENTS_DAGSTER_EXECUTOR=multiprocess: .*ACCIDENTS_CATALOG=postgres"):
        Settings.from_env({"ACCIDENTS_DAGSTER_EXECUTOR": "multiprocess"})
