"""Connect to the DuckLake lake: extensions from the pinned wheels, secrets, ATTACH, schemas.

`attach_statements` is the single source of the SQL that opens the lake; `connect` runs it in
process and `accidents lake attach-sql` prints it for the DuckDB CLI (with `getenv(...)` in place of
secret values and the DSN without its password, so nothing secret is ever printed). Failures of the
S3 server or the PostgreSQL catalog become one-line errors naming the server (`server_error`).
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
    import pandas as pd
    import pyarrow as pa

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


# A password inside a libpq DSN: `password=...` (quoted or not), `user:pw@` in a URI, `?password=`.
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)|(://[^:/@\s]+:)([^@\s]+)(@)",
                           re.IGNORECASE)


def redact_dsn(dsn: str, replacement: str = "***") -> str:
    """The DSN with any password replaced, fit to print."""
    return _DSN_PASSWORD.sub(
        lambda m: f"{m[1]}{replacement}" if m[1] else f"{m[3]}{replacement}{m[5]}", dsn)


def without_password(dsn: str) -> str:
    """The DSN with its password removed (libpq then reads PGPASSWORD)."""
    stripped = _DSN_PASSWORD.sub(lambda m: "" if m[1] else f"{m[3].rsplit(':', 1)[0]}@", dsn)
    return re.sub(r"\s{2,}", " ", stripped).replace("?&", "?").strip().rstrip("?")


def _secrets_of(settings: Settings) -> list[str]:
    """Secret values that must never reach a message: S3 keys and a password in the DSN."""
    found = [settings.s3.secret_access_key or "", settings.s3.access_key_id or ""]
    for m in _DSN_PASSWORD.finditer(settings.postgres_dsn or ""):
        found.append((m[2] or m[4] or "").strip("'"))
    return [value for value in found if len(value) >= 3]


def scrub(settings: Settings, text: str) -> str:
    """`text` with every secret value of `settings` masked (errors may echo connection strings)."""
    for value in _secrets_of(settings):
        text = text.replace(value, "***")
    return text


def ducklake_uri(settings: Settings, *, redacted: bool = False, for_cli: bool = False) -> str:
    """`redacted` masks a DSN password (messages); `for_cli` drops it (libpq reads PGPASSWORD)."""
    if settings.catalog == "postgres":
        dsn = settings.postgres_dsn or ""
        if for_cli:
            dsn = without_password(dsn)
        elif redacted:
            dsn = redact_dsn(dsn)
        return f"ducklake:postgres:{dsn}"
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


def s3_endpoint_url(settings: Settings) -> str:
    """The S3 server, as a user would name it in a message."""
    s3 = settings.s3
    scheme = "https" if s3.use_ssl else "http"
    return f"{scheme}://{s3.endpoint}" if s3.endpoint else f"AWS S3 ({s3.region})"


# What DuckDB reports when the object store or the PostgreSQL catalog fails under a running statement.
_S3_DENIED = re.compile(r"\b403\b|AccessDenied|SignatureDoesNotMatch|InvalidAccessKeyId|Forbidden", re.IGNORECASE)
_CATALOG_FAILURE = re.compile(
    r"server closed the connection|terminating connection|could not connect|connection to server|"
    r"Connection refused|no connection to the server|SSL SYSCALL|Unable to connect to Postgres|"
    r"password authentication failed|role \S+ does not exist|database \S+ does not exist|"
    r"connection (?:is )?(?:bad|closed|lost)", re.IGNORECASE)


def server_error(settings: Settings, exc: BaseException) -> AccidentsError | None:
    """A one-line error naming the server and the setting to check when the object store or the
    PostgreSQL catalog failed; None for anything else (a bug keeps its traceback). A DuckDB error
    re-raised by other code is found through the exception's causes."""
    if isinstance(exc, AccidentsError):
        return None
    while exc is not None and not (type(exc).__module__ or "").startswith(("duckdb", "_duckdb")):
        exc = exc.__cause__ or exc.__context__
    if exc is None:
        return None
    text = str(exc)
    first = scrub(settings, text.strip().splitlines()[0] if text.strip() else type(exc).__name__)
    s3_said = settings.uses_s3 and ("HTTP" in text or (settings.s3.endpoint or "s3://") in text
                                    or settings.resolved_data_path in text)
    if s3_said:
        hint = (" (check ACCIDENTS_S3_ACCESS_KEY_ID and ACCIDENTS_S3_SECRET_ACCESS_KEY)"
                if _S3_DENIED.search(text) else "")
        return AccidentsError(f"object storage {s3_endpoint_url(settings)} failed for the lake's data path "
                              f"{settings.resolved_data_path}{hint}: {first}")
    if settings.catalog == "postgres" and _CATALOG_FAILURE.search(text):
        return AccidentsError(f"PostgreSQL catalog {redact_dsn(settings.postgres_dsn or '')} (ACCIDENTS_PG_DSN) "
                              f"failed: {first}")
    return None


def attach_statements(settings: Settings, *, read_only: bool = False, for_cli: bool = False) -> list[str]:
    """The SQL that opens the lake, in order. Secrets appear as getenv() calls when `for_cli`."""
    statements = [f"LOAD {ext};" for ext in required_extensions(settings)]
    if settings.uses_s3:
        statements.append(_s3_secret(settings, for_cli))
        statements.append(f"SET http_timeout = {int(settings.s3.timeout_seconds)};")
        statements.append(f"SET http_retries = {int(settings.s3.retries)};")
    if settings.catalog == "postgres":
        statements.append(f"SET ducklake_max_retry_count = {int(settings.retry_count)};")
    options = [f"DATA_PATH {_quote(settings.resolved_data_path)}"]
    # The default data path is derived from the data folder, which may have been moved or restored
    # elsewhere: it wins over the path the catalog recorded (file paths inside are relative to it).
    if settings.data_path is None or settings.override_data_path:
        options.append("OVERRIDE_DATA_PATH true")
    if read_only:
        options.append("READ_ONLY")
    statements.append(
        f"ATTACH {_quote(ducklake_uri(settings, for_cli=for_cli))} AS {LAKE_ALIAS} ({', '.join(options)});"
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
    text = scrub(settings, str(exc))
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    uri = ducklake_uri(settings, redacted=True)
    if "lock" in text.lower():
        return AccidentsError(
            f"the lake catalog {uri} is locked by another process "
            "(a DuckDB-file catalog admits one process at a time; use ACCIDENTS_CATALOG=sqlite): " + first
        )
    if "does not match existing data path" in text:
        return AccidentsError(
            f"cannot open the lake {uri}: ACCIDENTS_DATA_PATH={settings.resolved_data_path} is not the data "
            "path its catalog recorded; if the files were moved there, set ACCIDENTS_OVERRIDE_DATA_PATH=true"
        )
    found = server_error(settings, exc)
    if found is not None:
        return found
    setting = " (ACCIDENTS_PG_DSN)" if settings.catalog == "postgres" else ""
    return AccidentsError(f"cannot open the lake {uri}{setting}: {first}")


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake attached as `lake` and schemas created."""
    if settings.catalog != "postgres":
        settings.lake_dir.mkdir(parents=True, exist_ok=True)
        if not settings.uses_s3:
            Path(settings.resolved_data_path).mkdir(parents=True, exist_ok=True)
    if settings.catalog == "sqlite" and not read_only:
        _use_wal(catalog_path(settings))
    try:
        con = with_retries(lambda: _attached(settings, read_only), transient=_CONCURRENT_INIT)
    except AccidentsError:
        raise
    except Exception as exc:
        raise _friendly_attach_error(settings, exc) from None
    if not read_only:
        with write_lock(con):
            for schema in SCHEMAS:
                _execute_with_retry(con, f"CREATE SCHEMA IF NOT EXISTS {schema}")
            # Inlined tables reserve the column name `row_id`, which silver and gold use; small writes
            # go straight to Parquet instead, so users see every table as files.
            _execute_with_retry(con, f"CALL {LAKE_ALIAS}.set_option('data_inlining_row_limit', 0)")
    use_department(con, settings.departments[0])
    return con


def _attached(settings: Settings, read_only: bool) -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    install_extensions(con, required_extensions(settings))
    # A busy SQLite catalog answers "database is locked": retry instead of failing at once.
    con.execute(f"SET ducklake_max_retry_count = {int(settings.retry_count)}")
    try:
        for statement in attach_statements(settings, read_only=read_only):
            if not statement.startswith("LOAD"):
                _execute_with_retry(con, statement)
    except BaseException:
        con.close()
        raise
    return con


# Two processes opening a new catalog at once both create its tables; the loser's transaction fails
# on the catalog's unique names and rolls back, and a fresh attach then finds the winner's catalog.
_CONCURRENT_INIT = re.compile(r"Failed to initialize DuckLake.*(duplicate key|already exists)",
                              re.IGNORECASE | re.DOTALL)

# What a concurrent writer causes and a retry cures: a locked SQLite catalog, a PostgreSQL
# serialization failure, a DuckLake commit conflict (e.g. both deleting from one data file). "conflict" as
# a whole word: a DuckDB-file catalog held by another process ("Conflicting lock is held") stays held for
# that process's life, so waiting for it would only delay the clear error.
_TRANSIENT = re.compile(r"database is locked|busy|could not serialize|another transaction|\bconflict\b",
                        re.IGNORECASE)


def with_retries(action: Callable[[], T], attempts: int = 20, transient: re.Pattern[str] | None = None) -> T:
    """Run `action`, again after a growing pause when a concurrent writer got in the way."""
    transient = transient or _TRANSIENT
    delay = 0.05
    for attempt in range(attempts):
        try:
            return action()
        except Exception as exc:
            if isinstance(exc, LakeBusy) or not transient.search(str(exc)) or attempt == attempts - 1:
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


class CommitConflict(AccidentsError):
    """A lake commit refused for a conflict with a concurrent transaction, still refused after replays."""


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, **frames) -> Iterator[duckdb.DuckDBPyConnection]:
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
            conflict = _CONFLICT.search(str(exc)) if isinstance(exc, Exception) else None
            if conflict and not isinstance(exc, AccidentsError):
                raise CommitConflict(f"the lake refused the commit: {conflict.group(0)}") from None
            if isinstance(exc, Exception) and not isinstance(exc, AccidentsError) and _TRANSIENT.search(str(exc)):
                # a process outside this lock (e.g. a DuckDB CLI writing) got in the way: one line,
                # whose text with_retries still recognises
                raise AccidentsError(f"the lake catalog is busy (another process is using it): "
                                     f"{str(exc).splitlines()[0]}") from None
            raise
        finally:
            for name in frames:
                con.unregister(name)


def one_pass(data: pd.DataFrame | pa.Table, batch_rows: int = 1 << 20) -> pa.RecordBatchReader:
    """`data` as a reader DuckDB scans once, letting go of each batch as it is read. Inside a
    transaction DuckDB keeps every registered object alive until COMMIT, so a write of many blocks
    registered as frames holds them all (a 0.005° backfill: 9.5 GB for 365 days); read this way, the
    transaction holds none of them and the caller's block is freed when the caller drops it."""
    import pyarrow as pa

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
            _execute_with_retry(con, statement)


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
    con.execute(f"INSERT INTO {qualified} BY NAME {query}", params)


def replace_department_table(con: duckdb.DuckDBPyConnection, qualified: str, select_sql: str, params=None) -> int:
    """This connection's département's rows of a table, replaced in one transaction; returns their count."""
    committed(con, lambda: write_department_rows(con, qualified, select_sql, params))
    return con.execute(f"SELECT count(*) FROM {qualified} WHERE dep = {DEP}").fetchone()[0]


def replace_table(con: duckdb.DuckDBPyConnection, qualified: str, select_sql: str, params=None) -> int:
    """Create or replace a whole table from a query in one transaction; returns its row count."""
    committed(con, lambda: con.execute(f"CREATE OR REPLACE TABLE {qualified} AS {select_sql}", params or []))
    return con.execute(f"SELECT count(*) FROM {qualified}").fetchone()[0]


# --- concurrent processes on an embedded catalog ------------------------------------------------
# A SQLite (or DuckDB-file) catalog has no server to arbitrate writers: two processes committing at
# once fail with "database is locked" (which `committed` does not replay: a stage's whole write
# would be redone) or a DuckLake conflict. So every write path (committed, ensure_tables, connect)
# takes one lock file next to the catalog, waiting at most WRITE_LOCK_TIMEOUT_S, and the catalog runs
# in WAL mode so readers never block on a writer. A PostgreSQL catalog arbitrates itself (DuckLake
# retries; `committed` replays a refused commit).
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
