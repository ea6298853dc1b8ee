"""What a failed lake operation was, told on one line: a data file that cannot be read (named with its
table, found by verifying the files when DuckDB's message names none), a failing S3 server or
PostgreSQL catalog, a file system refusing a write. Used by the CLI's top-level handler and `accidents
sql`, so that every command gets the same line; the error types are the lake's (`LakeFileDamaged`,
`StorageFailed`, ...), for the API to answer them as it sees fit."""

from __future__ import annotations

import re

from pipeline.core.errors import AccidentsError
from pipeline.core.lake.connection import connect
from pipeline.core.lake.failures import duckdb_error, first_line, io_error, server_error
from pipeline.core.lake.integrity import (
    QUOTED_PATH, LakeFile, LakeFileDamaged, damaged_error, live_files, verify_files,
)
from pipeline.core.settings import Settings

# DuckDB's words for a Parquet file it could not decode (some of them, Thrift's, name no file).
_UNREADABLE = re.compile(r"TProtocolException|Invalid data|footer|magic bytes|Parquet|Could not read enough bytes|"
                         r"Cannot open file|No files found|decompress|snappy|zstd|Corrupt", re.IGNORECASE)


def storage_error(settings: Settings, exc: BaseException) -> AccidentsError | None:
    """The one-line error of a failure of the lake's storage: a data file that cannot be read (named
    with its table), a failing S3 server or PostgreSQL catalog, a file system refusing a write (full,
    permission); None for anything else (a bug keeps its traceback)."""
    return lake_file_error(settings, exc) or server_error(settings, exc) or io_error(settings, exc)


def _catalog_files(settings: Settings) -> dict[str, LakeFile]:
    """Every file the catalog holds (any snapshot) by path, read on a fresh connection; empty if it
    cannot be."""
    try:
        con = connect(settings, read_only=True, check_files=False)
        try:
            return {f.path: f for f in live_files(con, every_snapshot=True)}
        finally:
            con.close()
    except Exception:
        return {}


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
    first = first_line(found)
    named = QUOTED_PATH.search(text)
    if named and (file := _catalog_files(settings).get(named[1])):  # a lake file: not a failed new write
        return LakeFileDamaged(f"cannot read {file.table} file {named[1]}: "
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


