"""What a failed lake operation was, told on one line: a data file that cannot be read (named with its
table, found by verifying the files when DuckDB's message names none), a failing S3 server or
PostgreSQL catalog, a file system refusing a write. Used by the CLI's top-level handler and `accidents
sql`, so that every command gets the same line; the error types are the lake's (`LakeFileDamaged`,
`StorageFailed`, ...), for the API to answer them as it sees fit."""

from __future__ import annotations

import re

from pipeline.core.errors import AccidentsError
from pipeline.core.lake.connection import connect
from pipeline.core.lake.failures import io_error, server_error
from pipeline.core.lake.integrity import QUOTED_PATH, LakeFileDamaged, damaged_error, duckdb_error, live_files, verify_files
from pipeline.core.settings import Settings

# DuckDB's words for a Parquet file it could not decode (some of them, Thrift's, name no file).
_UNREADABLE = re.compile(r"TProtocolException|Invalid data|footer|magic bytes|Parquet|Could not read enough bytes|"
                         r"Cannot open file|No files found|decompress|snappy|zstd|Corrupt", re.IGNORECASE)


def storage_error(settings: Settings, exc: BaseException) -> AccidentsError | None:
    """The one-line error of a failure of the lake's storage: a data file that cannot be read (named
    with its table), a failing S3 server or PostgreSQL catalog, a file system refusing a write (full,
    permission); None for anything else (a bug keeps its traceback)."""
    return lake_file_error(settings, exc) or server_error(settings, exc) or io_error(settings, exc)


def _table_of(path: str, data_path: str) -> str:
    """schema.table of a file under the data path (DuckLake lays files out as <schema>/<table>/...)."""
    relative = path.removeprefix(data_path.rstrip("/") + "/").split("/")
    return ".".join(relative[:2]) if len(relative) >= 3 else "a lake table"


def _catalog_paths(settings: Settings) -> set[str]:
    """Every file the catalog holds (any snapshot), read on a fresh connection; empty if it cannot be."""
    try:
        con = connect(settings, read_only=True, check_files=False)
        try:
            return {f.path for f in live_files(con, every_snapshot=True)}
        finally:
            con.close()
    except Exception:
        return set()


def lake_file_error(settings: Settings, exc: BaseException) -> LakeFileDamaged | None:
    """A one-line error naming the table and the file when DuckDB failed to read one of the lake's
    data files (missing, truncated, undecodable); None for anything else. When DuckDB's message names
    no file (Thrift's "Invalid data"), the lake's files are verified to find it."""
    if isinstance(exc, AccidentsError):
        return None
    found = duckdb_error(exc)
    if found is None:
        return None
    text = str(found)
    first = text.strip().splitlines()[0] if text.strip() else type(found).__name__
    named = QUOTED_PATH.search(text)
    if named and named[1] in _catalog_paths(settings):  # one of the lake's files: not a failed new write
        return LakeFileDamaged(f"cannot read {_table_of(named[1], settings.resolved_data_path)} file {named[1]}: "
                               f"{first}; run `accidents lake verify`, then `accidents lake repair`")
    if named:
        return None
    if not _UNREADABLE.search(text):
        return None
    try:
        con = connect(settings, read_only=True, check_files=False)
        try:
            damage = verify_files(con)[0]
        finally:
            con.close()
    except Exception:  # the lake cannot be verified now: keep the original error
        return None
    return damaged_error(damage, f"cannot read the lake ({first})") if damage else None


