"""Connect to the DuckLake lake: extensions from the pinned wheels, secrets, ATTACH, schemas.

`attach_statements` is the single source of the SQL that opens the lake; `connect` runs it in
process and `accidents lake attach-sql` prints it for the DuckDB CLI (with `getenv(...)` in place of
secret values, so nothing secret is ever printed).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")
LAKE_ALIAS = "lake"
SCHEMAS = ("bronze", "silver", "gold")
_EXTENSIONS_BY_CATALOG = {"sqlite": ("sqlite",), "duckdb": (), "postgres": ("postgres",)}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def required_extensions(settings: Settings) -> tuple[str, ...]:
    exts = ["ducklake", *_EXTENSIONS_BY_CATALOG[settings.catalog]]
    if settings.uses_s3:
        exts.append("httpfs")
    return tuple(exts)


def catalog_path(settings: Settings) -> Path:
    suffix = {"sqlite": "catalog.sqlite", "duckdb": "catalog.ducklake"}[settings.catalog]
    return (settings.lake_dir / suffix).resolve()


def ducklake_uri(settings: Settings) -> str:
    if settings.catalog == "postgres":
        return f"ducklake:postgres:{settings.postgres_dsn}"
    if settings.catalog == "sqlite":
        return f"ducklake:sqlite:{catalog_path(settings)}"
    return f"ducklake:{catalog_path(settings)}"


def _s3_secret(settings: Settings, for_cli: bool) -> str:
    s3 = settings.s3

    def secret(env_name: str, value: str | None) -> str:
        if for_cli:
            return f"getenv({_quote(env_name)})"
        if not value:
            raise AccidentsError(
                f"the lake's data path {settings.resolved_data_path} is on S3 but {env_name} is not set"
            )
        return _quote(value)

    options = [
        "TYPE s3",
        f"KEY_ID {secret('ACCIDENTS_S3_ACCESS_KEY_ID', s3.access_key_id)}",
        f"SECRET {secret('ACCIDENTS_S3_SECRET_ACCESS_KEY', s3.secret_access_key)}",
        f"REGION {_quote(s3.region)}",
        f"URL_STYLE {_quote(s3.url_style)}",
        f"USE_SSL {'true' if s3.use_ssl else 'false'}",
    ]
    if s3.endpoint:
        options.append(f"ENDPOINT {_quote(s3.endpoint)}")
    return f"CREATE OR REPLACE SECRET accidents_s3 ({', '.join(options)});"


def attach_statements(settings: Settings, *, read_only: bool = False, for_cli: bool = False) -> list[str]:
    """The SQL that opens the lake, in order. Secrets appear as getenv() calls when `for_cli`."""
    statements = [f"LOAD {ext};" for ext in required_extensions(settings)]
    if settings.uses_s3:
        statements.append(_s3_secret(settings, for_cli))
    if settings.catalog == "postgres":
        statements.append(f"SET ducklake_max_retry_count = {int(settings.retry_count)};")
    options = [f"DATA_PATH {_quote(settings.resolved_data_path)}"]
    if read_only:
        options.append("READ_ONLY")
    statements.append(
        f"ATTACH {_quote(ducklake_uri(settings))} AS {LAKE_ALIAS} ({', '.join(options)});"
    )
    statements.append(f"USE {LAKE_ALIAS};")
    return statements


def install_extensions(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    """LOAD each extension, installing it from its PyPI wheel first if DuckDB does not have it yet."""
    import duckdb_extensions

    for name in names:
        try:
            con.execute(f"LOAD {name}")
        except Exception:  # not installed yet in ~/.duckdb: install from the pinned wheel
            duckdb_extensions.import_extension(name, con=con)
            con.execute(f"LOAD {name}")


def _friendly_attach_error(settings: Settings, exc: Exception) -> AccidentsError:
    text = str(exc)
    if "lock" in text.lower():
        return AccidentsError(
            f"the lake catalog {ducklake_uri(settings)} is locked by another process "
            "(a DuckDB-file catalog admits one process at a time; use ACCIDENTS_CATALOG=sqlite): "
            + text.splitlines()[0]
        )
    return AccidentsError(f"cannot open the lake {ducklake_uri(settings)}: {text.splitlines()[0]}")


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake attached as `lake` and schemas created."""
    import duckdb

    if settings.catalog != "postgres":
        settings.lake_dir.mkdir(parents=True, exist_ok=True)
        if not settings.uses_s3:
            Path(settings.resolved_data_path).mkdir(parents=True, exist_ok=True)
    if settings.catalog == "sqlite" and not read_only:
        _use_wal(catalog_path(settings))
    con = duckdb.connect()
    install_extensions(con, required_extensions(settings))
    # A busy SQLite catalog answers "database is locked": retry instead of failing at once.
    con.execute(f"SET ducklake_max_retry_count = {int(settings.retry_count)}")
    try:
        for statement in attach_statements(settings, read_only=read_only):
            if not statement.startswith("LOAD"):
                _execute_with_retry(con, statement)
    except AccidentsError:
        con.close()
        raise
    except Exception as exc:
        con.close()
        raise _friendly_attach_error(settings, exc) from None
    if not read_only:
        with write_lock(con):
            for schema in SCHEMAS:
                _execute_with_retry(con, f"CREATE SCHEMA IF NOT EXISTS {schema}")
            # Inlined tables reserve the column name `row_id`, which silver and gold use; small writes
            # go straight to Parquet instead, so users see every table as files.
            _execute_with_retry(con, f"CALL {LAKE_ALIAS}.set_option('data_inlining_row_limit', 0)")
    return con


# What a concurrent writer causes and a retry cures: a locked SQLite catalog, a PostgreSQL
# serialization failure, a DuckLake commit conflict (e.g. both deleting from one data file).
_TRANSIENT = re.compile(r"database is locked|busy|could not serialize|another transaction|conflict",
                        re.IGNORECASE)


def with_retries(action: Callable[[], T], attempts: int = 20) -> T:
    """Run `action`, again after a growing pause when a concurrent writer got in the way."""
    delay = 0.05
    for attempt in range(attempts):
        try:
            return action()
        except Exception as exc:
            if isinstance(exc, LakeBusy) or not _TRANSIENT.search(str(exc)) or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
    raise AssertionError("unreachable")


def _execute_with_retry(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    with_retries(lambda: con.execute(sql))


@contextmanager
def lake_connection(settings: Settings, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(settings, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


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


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection, **frames) -> Iterator[duckdb.DuckDBPyConnection]:
    """One lake transaction: COMMIT at the end of the block, ROLLBACK on any error, so a table set is
    replaced all at once or not at all. `frames` (DataFrames / Arrow tables) are registered as views
    under their keyword names for the block's duration."""
    with write_lock(con):
        for name, frame in frames.items():
            con.register(name, frame)
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException as exc:
            try:
                con.execute("ROLLBACK")
            except Exception:  # a failed COMMIT has already ended the transaction: keep its error
                pass
            if isinstance(exc, Exception) and not isinstance(exc, AccidentsError) and _TRANSIENT.search(str(exc)):
                # a process outside this lock (e.g. a DuckDB CLI writing) got in the way: one line,
                # whose text with_retries still recognises
                raise AccidentsError(f"the lake catalog is busy (another process is using it): "
                                     f"{str(exc).splitlines()[0]}") from None
            raise
        finally:
            for name in frames:
                con.unregister(name)


def ensure_tables(con: duckdb.DuckDBPyConnection, *ddl: str) -> None:
    """Run `CREATE TABLE IF NOT EXISTS` statements, each in its own transaction. Two writers creating
    the same table at once is a DuckLake conflict ("created by another transaction"); the loser
    retries and then finds the table there."""
    with write_lock(con):
        for statement in ddl:
            _execute_with_retry(con, statement)


def replace_table(con: duckdb.DuckDBPyConnection, qualified: str, select_sql: str, params=None) -> int:
    """Create or replace a whole table from a query in one transaction; returns its row count."""
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {qualified} AS {select_sql}", params or [])
    return con.execute(f"SELECT count(*) FROM {qualified}").fetchone()[0]


# --- concurrent processes on an embedded catalog ------------------------------------------------
# A SQLite (or DuckDB-file) catalog has no server to arbitrate writers: two processes committing at
# once fail with "database is locked" or a DuckLake conflict, and a failed transaction cannot be
# replayed from here. So every write path (transaction, ensure_tables, connect) takes one lock file
# next to the catalog, waiting at most WRITE_LOCK_TIMEOUT_S, and the catalog runs in WAL mode so
# readers never block on a writer. A PostgreSQL catalog arbitrates itself (DuckLake retries).
WRITE_LOCK_TIMEOUT_S = 300.0
_held: dict[str, list] = {}  # lock path -> [thread lock, open file or None, depth]
_held_guard = threading.Lock()


def _use_wal(path: Path) -> None:
    import sqlite3

    try:
        with sqlite3.connect(path, timeout=WRITE_LOCK_TIMEOUT_S) as db:
            db.execute("PRAGMA journal_mode=WAL")
        db.close()
    except sqlite3.Error as exc:
        raise AccidentsError(f"cannot open the lake catalog {path}: {exc}") from None


def _lock_path(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = ?", [LAKE_ALIAS]).fetchone()
    path = row[0] if row else None
    if not path or path.startswith(("postgres:", "postgresql:")):
        return None
    return path.removeprefix("sqlite:") + ".write-lock"


@contextmanager
def write_lock(con: duckdb.DuckDBPyConnection, timeout: float | None = None) -> Iterator[None]:
    """Hold the embedded catalog's write lock (re-entrant within a thread) for the block."""
    path = _lock_path(con)
    if path is None:
        yield
        return
    timeout = WRITE_LOCK_TIMEOUT_S if timeout is None else timeout
    with _held_guard:
        entry = _held.setdefault(path, [threading.RLock(), None, 0])
    deadline = time.monotonic() + timeout
    if not entry[0].acquire(timeout=timeout):
        raise _busy(path, timeout)
    try:
        if entry[2] == 0:
            entry[1] = _flock(path, deadline, timeout)
        entry[2] += 1
        try:
            yield
        finally:
            entry[2] -= 1
            if entry[2] == 0:
                entry[1].close()  # closing the file releases the lock
                entry[1] = None
    finally:
        entry[0].release()


def _flock(path: str, deadline: float, timeout: float):
    import fcntl

    handle = open(path, "a")  # noqa: SIM115 (held until the outermost block ends)
    delay = 0.005
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise _busy(path, timeout) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


class LakeBusy(AccidentsError):
    """The write lock was not free within the bounded wait (never retried: the wait was the retry)."""


def _busy(path: str, timeout: float) -> LakeBusy:
    return LakeBusy(f"the lake is busy: another process has been writing to it for more than "
                          f"{timeout:.0f} s (lock {path}); try again when it has finished")
