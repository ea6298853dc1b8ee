"""What goes wrong with the lake, as one-line errors: the lake's own error types, and DuckDB's
failures of the S3 server or the PostgreSQL catalog translated into a message naming the server and
the setting to check (`server_error`), with every secret value masked."""

from __future__ import annotations

import re

import duckdb

from pipeline.core.errors import AccidentsError
from pipeline.core.lake.attach import (
    LAKE_ALIAS, _quote, attached_catalog, ducklake_uri, redact_dsn, s3_endpoint_url, scrub,
)
from pipeline.core.settings import Settings


class LakeBusy(AccidentsError):
    """The write lock was not free within the bounded wait (never retried: the wait was the retry)."""


class CommitConflict(AccidentsError):
    """A lake commit refused for a conflict with a concurrent transaction, still refused after replays."""


class CommitFailed(AccidentsError):
    """The catalog failed while committing (disk full, server lost...): nothing was committed."""


class StorageFailed(AccidentsError):
    """The lake's files or catalog could not be read or written (disk full, permission, server lost)."""


def duckdb_error(exc: BaseException | None) -> BaseException | None:
    """The DuckDB error among `exc` and its causes (other code may re-raise it), or None."""
    while exc is not None and not (type(exc).__module__ or "").startswith(("duckdb", "_duckdb")):
        exc = exc.__cause__ or exc.__context__
    return exc


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (the error itself; DuckDB adds context below it)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def root_cause(exc: BaseException) -> str:
    """The last line of a DuckDB message: the innermost cause ("database or disk is full")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def catalog_name(con) -> str:
    """The lake's catalog as a user may see it: its file, or the PostgreSQL DSN without its password
    and the setting that gives it."""
    path, dsn = attached_catalog(con)
    if dsn is not None:
        return f"PostgreSQL {redact_dsn(dsn)} (ACCIDENTS_PG_DSN)"
    return path or "?"


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
    exc = duckdb_error(exc)
    if exc is None:
        return None
    text = str(exc)
    first = scrub(settings, first_line(exc))
    s3_said = settings.uses_s3 and ("HTTP" in text or (settings.s3.endpoint or "s3://") in text
                                    or settings.resolved_data_path in text)
    if s3_said:
        hint = (" (check ACCIDENTS_S3_ACCESS_KEY_ID and ACCIDENTS_S3_SECRET_ACCESS_KEY)"
                if _S3_DENIED.search(text) else "")
        return AccidentsError(f"object storage {s3_endpoint_url(settings)} failed for the lake's data path "
                              f"{settings.resolved_data_path}{hint}: {first}")
    if settings.catalog == "postgres" and (_CATALOG_FAILURE.search(text) or catalog_lost(settings)):
        return AccidentsError(f"PostgreSQL catalog {redact_dsn(settings.postgres_dsn or '')} (ACCIDENTS_PG_DSN) "
                              f"failed: {first}")
    return None


# The PostgreSQL catalog's start time as each process first saw it (by DSN): a later failure with the
# server restarted since, or unreachable now, is a lost catalog whatever DuckDB's words for it.
_catalog_started: dict[str, str] = {}
_START_TIME = "SELECT pg_postmaster_start_time()::VARCHAR"


def remember_catalog_start(con, settings: Settings) -> None:
    if settings.catalog != "postgres":
        return
    try:
        row = con.execute("SELECT * FROM postgres_query(?, ?)", [f"__ducklake_metadata_{LAKE_ALIAS}", _START_TIME]
                          ).fetchone()
    except Exception:  # not fatal: failures are then told by their words only
        return
    _catalog_started[settings.postgres_dsn or ""] = row[0]  # as of the latest open


def catalog_lost(settings: Settings) -> bool:
    """Whether the PostgreSQL catalog is unreachable now or restarted since this process first met it
    (a fresh connection asks the server its start time)."""
    seen = _catalog_started.get(settings.postgres_dsn or "")
    try:
        con = duckdb.connect()
        try:
            con.execute("LOAD postgres")
            con.execute(f"ATTACH {_quote(settings.postgres_dsn or '')} AS probe (TYPE postgres, READ_ONLY)")
            now = con.execute("SELECT * FROM postgres_query('probe', ?)", [_START_TIME]).fetchone()[0]
        finally:
            con.close()
    except Exception:
        return True
    return seen is not None and now != seen


def io_error(settings: Settings, exc: BaseException) -> StorageFailed | None:
    """A one-line error for a file of the lake's storage that could not be written or read (disk full,
    permission denied, read-only file system), known by DuckDB's error kind (IOException)."""
    exc = duckdb_error(exc)
    if not isinstance(exc, duckdb.IOException) or (settings.uses_s3 and "HTTP" in str(exc)):
        return None
    cause = scrub(settings, root_cause(exc))
    return StorageFailed(f"the lake's storage failed ({settings.resolved_data_path}): {cause}; nothing of the "
                         "failed write was committed, free space or fix permissions and run the command again")


def attach_error(settings: Settings, exc: Exception) -> AccidentsError:
    """The one-line error for a lake that could not be opened."""
    text, first = scrub(settings, str(exc)), scrub(settings, first_line(exc))
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
