"""Open the DuckLake lake: extensions from the pinned wheels, secrets, ATTACH, schemas, and the
connection's département; plus the catalog questions every stage asks (does a table exist, which
tables, which snapshot)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import duckdb_extensions

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import integrity
from pipeline.core.lake.attach import LAKE_ALIAS, SCHEMAS, attach_statements, catalog_path, required_extensions
from pipeline.core.lake.failures import attach_error, remember_catalog_start
from pipeline.core.lake.lock import use_wal, write_lock
from pipeline.core.lake.retries import CONCURRENT_INIT, execute_with_retry, with_retries
from pipeline.core.settings import Settings


def install_extensions(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    """LOAD each extension, installing it from its PyPI wheel first if DuckDB does not have it yet."""
    for name in names:
        try:
            con.execute(f"LOAD {name}")
        except Exception:  # not installed yet in ~/.duckdb: install from the pinned wheel
            duckdb_extensions.import_extension(name, con=con)
            con.execute(f"LOAD {name}")


def connect(settings: Settings, *, read_only: bool = False, check_files: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake attached as `lake` and schemas created. Unless
    `check_files` is False (what verifies and repairs them), a local data file changed since its
    checksum was recorded and no longer matching it stops here (integrity.LakeFileDamaged)."""
    if settings.catalog != "postgres":
        settings.lake_dir.mkdir(parents=True, exist_ok=True)
        if not settings.uses_s3:
            Path(settings.resolved_data_path).mkdir(parents=True, exist_ok=True)
    if settings.catalog == "sqlite" and not read_only:
        use_wal(catalog_path(settings))
    try:
        con = with_retries(lambda: _attached(settings, read_only), transient=CONCURRENT_INIT)
    except AccidentsError:
        raise
    except Exception as exc:
        raise attach_error(settings, exc) from None
    if not read_only:
        with write_lock(con):
            for schema in SCHEMAS:
                execute_with_retry(con, f"CREATE SCHEMA IF NOT EXISTS {schema}")
            # Inlined tables reserve the column name `row_id`, which silver and gold use; small writes
            # go straight to Parquet instead, so users see every table as files.
            execute_with_retry(con, f"CALL {LAKE_ALIAS}.set_option('data_inlining_row_limit', 0)")
    use_department(con, settings.departments[0])
    try:
        _check_files(con, settings, read_only, check_files)
    except BaseException:
        con.close()
        raise
    return con


def _check_files(con: duckdb.DuckDBPyConnection, settings: Settings, read_only: bool, check_files: bool) -> None:
    integrity.remember_data_path(con, settings)
    remember_catalog_start(con, settings)
    if not read_only:  # files committed by a process that died before recording them get theirs now
        with write_lock(con):
            with_retries(lambda: integrity.record_checksums(con))
    if check_files:
        integrity.check_changed_files(con)


def _attached(settings: Settings, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    install_extensions(con, required_extensions(settings))
    # A busy SQLite catalog answers "database is locked": retry instead of failing at once.
    con.execute(f"SET ducklake_max_retry_count = {int(settings.retry_count)}")
    try:
        for statement in attach_statements(settings, read_only=read_only):
            if not statement.startswith("LOAD"):
                execute_with_retry(con, statement)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def lake_connection(settings: Settings, *, read_only: bool = False, check_files: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(settings, read_only=read_only, check_files=check_files)
    try:
        yield con
    finally:
        con.close()


# --- département slices -------------------------------------------------------------------------
# One lake holds several départements. Silver and gold are built for one département at a time: the
# connection's département (a DuckDB variable, set when the lake is opened from Settings.departments[0]
# or by a stage given its département) selects the rows a stage reads (`WHERE dep = {DEP}`) and the
# slice it replaces, so building one département leaves the others' rows untouched.
DEP = "getvariable('accidents_dep')"


def use_department(con: duckdb.DuckDBPyConnection, code: str) -> None:
    """Make `code` the département this connection reads and writes."""
    con.execute("SET VARIABLE accidents_dep = ?", [code])


def department_of(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(f"SELECT {DEP}").fetchone()[0]


# --- the catalog's contents ---------------------------------------------------------------------
def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
        [LAKE_ALIAS, schema, table],
    ).fetchone()
    return bool(row and row[0])


def list_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """(schema.table, row count) for every table of the lake."""
    names = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_catalog = ? AND table_schema IN ('bronze','silver','gold') ORDER BY 1",
        [LAKE_ALIAS],
    ).fetchall()
    return [(n, con.execute(f"SELECT count(*) FROM {n}").fetchone()[0]) for (n,) in names]


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int | None:
    row = con.execute(f"SELECT max(snapshot_id) FROM ducklake_snapshots('{LAKE_ALIAS}')").fetchone()
    return row[0] if row else None
