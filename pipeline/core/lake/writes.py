"""Writing to the lake: one transaction around a stage's write (`committed`, replayed when a
concurrent writer's commit conflicts), blocks of rows handed to DuckDB for one scan, and the
per-département writes that replace one département's slice of a table and leave the others'."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import integrity
from pipeline.core.lake.connection import DEP, table_exists
from pipeline.core.lake.failures import CommitConflict, CommitFailed, catalog_name, root_cause
from pipeline.core.lake.lock import lock_path, write_lock
from pipeline.core.lake.retries import TRANSIENT, execute_with_retry, with_retries

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

T = TypeVar("T")


def committed(con: duckdb.DuckDBPyConnection, body: Callable[[], T], *, attempts: int = 6, **frames) -> T:
    """Run `body` as one lake transaction and return its result: COMMIT at its end, ROLLBACK on any
    error, so a table set is replaced all at once or not at all. `frames` (DataFrames / Arrow tables)
    are registered as views under their keyword names while it runs.

    A commit refused for a conflict with a concurrent writer's (e.g. two départements' runs both
    creating a table that did not exist yet) runs `body` again from the start: the replay sees that
    writer's commit. `body` therefore starts from nothing each time (no state kept between tries)."""
    for attempt in range(attempts):
        try:
            with _transaction(con, **frames):
                return body()
        except CommitConflict:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


# DuckLake refuses a commit that conflicts with one made since the transaction began.
_CONFLICT = re.compile(r"Transaction conflict[^\n]*")


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, **frames) -> Iterator[duckdb.DuckDBPyConnection]:
    with write_lock(con):
        for name, frame in frames.items():
            con.register(name, frame)
        started_ns = time.time_ns() - 2_000_000_000  # file times are coarser than the clock on some systems
        con.execute("BEGIN TRANSACTION")
        committing = False
        try:
            yield con
            committing = True
            con.execute("COMMIT")
        except BaseException as exc:
            try:
                con.execute("ROLLBACK")
            except Exception:  # a failed COMMIT has already ended the transaction: keep its error
                pass
            # DuckLake deletes the files of a rolled-back transaction but not the one a write error
            # left half written (a full disk): remove what it left
            integrity.remove_partial_files(con, since_ns=started_ns, failure=exc,
                                           sole_writer=lock_path(con) is not None)
            conflict = _CONFLICT.search(str(exc)) if isinstance(exc, Exception) else None
            if conflict and not isinstance(exc, AccidentsError):
                raise CommitConflict(f"the lake refused the commit: {conflict.group(0)}") from None
            if isinstance(exc, Exception) and not isinstance(exc, AccidentsError) and TRANSIENT.search(str(exc)):
                # a process outside this lock (e.g. a DuckDB CLI writing) got in the way: one line,
                # whose text with_retries still recognises
                raise AccidentsError(f"the lake catalog is busy (another process is using it): "
                                     f"{str(exc).splitlines()[0]}") from None
            if committing and isinstance(exc, Exception) and not isinstance(exc, AccidentsError):
                # known by where it happened, whatever DuckDB's words: the catalog refused or lost the commit
                raise CommitFailed(f"the lake's catalog {catalog_name(con)} failed to commit, nothing of this write "
                                   f"was committed (the previous snapshot stands): {root_cause(exc)}") from exc
            raise
        finally:
            for name in frames:
                con.unregister(name)
        # the files this commit wrote get their checksums (own transaction: one database per transaction)
        with_retries(lambda: integrity.record_checksums(con))


def one_pass(data: pd.DataFrame | pa.Table, batch_rows: int = 1 << 20) -> pa.RecordBatchReader:
    """`data` as a reader DuckDB scans once, letting go of each batch as it is read. Inside a
    transaction DuckDB keeps every registered object alive until COMMIT, so a write of many blocks
    registered as frames holds them all (a 0.005° backfill: 9.5 GB for 365 days); read this way, the
    transaction holds none of them and the caller's block is freed when the caller drops it."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    schema, batches = table.schema, table.to_batches(max_chunksize=batch_rows)

    def drained() -> Iterator[pa.RecordBatch]:
        while batches:
            yield batches.pop(0)

    return pa.RecordBatchReader.from_batches(schema, drained())


@contextmanager
def scanned_once(con: duckdb.DuckDBPyConnection, name: str, data: pd.DataFrame | pa.Table) -> Iterator[None]:
    """`data` registered as the view `name` for one scan (`one_pass`) during the block: how a write
    hands DuckDB a block of rows inside a transaction without the transaction holding it."""
    con.register(name, one_pass(data))
    try:
        yield
    finally:
        con.unregister(name)


def ensure_tables(con: duckdb.DuckDBPyConnection, *ddl: str) -> None:
    """Run `CREATE TABLE IF NOT EXISTS` statements, each in its own transaction. Two writers creating
    the same table at once is a DuckLake conflict ("created by another transaction"); the loser
    retries and then finds the table there."""
    with write_lock(con):
        for statement in ddl:
            execute_with_retry(con, statement)


def write_department_rows(con: duckdb.DuckDBPyConnection, qualified: str, select_sql: str, params=None, *,
                          key: dict | None = None, insert_only: bool = False) -> None:
    """Inside an open transaction: replace this connection's département's rows of `qualified` (those
    also matching `key`'s column values, a list meaning any of them) by the query's rows, which take a `dep` column when they lack
    one. A missing table is created; columns the query adds are added (NULL for other départements'
    rows until they are rebuilt); rows of a table from before the département key (NULL dep) are
    dropped, being derived and rebuilt here. `insert_only` appends (later chunks of one slice)."""
    params = list(params or [])
    columns = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM ({select_sql})", params).fetchall()}
    query = select_sql if "dep" in columns else f"SELECT *, {DEP} AS dep FROM ({select_sql})"
    columns.setdefault("dep", "VARCHAR")
    if not table_exists(con, qualified):
        con.execute(f"CREATE TABLE {qualified} AS {query}", params)
        return
    if not insert_only:
        held = {r[0] for r in con.execute(f"SELECT column_name FROM (DESCRIBE {qualified})").fetchall()}
        for name, kind in columns.items():
            if name not in held:
                con.execute(f'ALTER TABLE {qualified} ADD COLUMN "{name}" {kind}')
        key = key or {}
        where = " AND ".join([f"(dep = {DEP} OR dep IS NULL)", *(
            f'list_contains(?, "{c}")' if isinstance(v, (list, tuple)) else f'"{c}" = ?' for c, v in key.items())])
        con.execute(f"DELETE FROM {qualified} WHERE {where}", list(key.values()))
        clear_stale(con, qualified)
    con.execute(f"INSERT INTO {qualified} BY NAME {query}", params)


STALE_PREFIX = "STALE"  # a table comment `lake repair` sets on the tables built from a repaired bronze


def clear_stale(con: duckdb.DuckDBPyConnection, qualified: str) -> None:
    """Inside a write of `qualified`: a stale mark left by a bronze repair goes (the stage rebuilds it)."""
    schema, table = qualified.split(".")
    row = con.execute("SELECT comment FROM duckdb_tables() WHERE database_name = current_database() AND "
                      "schema_name = ? AND table_name = ?", [schema, table]).fetchone()
    if row and (row[0] or "").startswith(STALE_PREFIX):
        con.execute(f"COMMENT ON TABLE {qualified} IS NULL")


def replace_department_table(con: duckdb.DuckDBPyConnection, qualified: str, select_sql: str, params=None) -> int:
    """This connection's département's rows of a table, replaced in one transaction; returns their count."""
    committed(con, lambda: write_department_rows(con, qualified, select_sql, params))
    return con.execute(f"SELECT count(*) FROM {qualified} WHERE dep = {DEP}").fetchone()[0]


def replace_table(con: duckdb.DuckDBPyConnection, qualified: str, select_sql: str, params=None) -> int:
    """Create or replace a whole table from a query in one transaction; returns its row count."""
    committed(con, lambda: con.execute(f"CREATE OR REPLACE TABLE {qualified} AS {select_sql}", params or []))
    return con.execute(f"SELECT count(*) FROM {qualified}").fetchone()[0]
