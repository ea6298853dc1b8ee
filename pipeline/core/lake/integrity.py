"""Checksums of the lake's data files: recorded when a file is committed, checked by `lake verify`,
before `lake maintain` rewrites anything, and when a command opens the lake.

DuckLake records each Parquet file's size but no hash, and DuckDB's Parquet reader checks none: bytes
changed inside a data page are read as other values. So every data and delete file the lake holds
gets a BLAKE3 hash in `accidents_file_checksum`, a table of the catalog database itself (beside
DuckLake's own tables, in SQLite, DuckDB or PostgreSQL alike), written in its own transaction right
after each commit (a single DuckDB transaction writes to one database only). Objects on S3 are read
back through DuckDB (`read_blob`) with the lake's own secret.

Local files also keep their modification time: opening the lake re-hashes only the files whose size or
time changed since they were last checked (a stat per file), so a file damaged in place stops every
command with one line, at the cost of a stat per live file; `lake verify` hashes them all.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import blake3
import duckdb

from pipeline.core.errors import AccidentsError
from pipeline.core.lake.attach import LAKE_ALIAS
from pipeline.core.lake.failures import duckdb_error
from pipeline.core.settings import Settings

CHECKSUMS = f"__ducklake_metadata_{LAKE_ALIAS}.accidents_file_checksum"
_CHECKSUMS_DDL = (f"CREATE TABLE IF NOT EXISTS {CHECKSUMS} (kind VARCHAR, file_id BIGINT, size_bytes BIGINT, "
                  "blake3 VARCHAR, mtime_ns BIGINT, recorded_at TIMESTAMP)")
_META = f"__ducklake_metadata_{LAKE_ALIAS}"
_BLOCK = 8 << 20


@dataclass(frozen=True)
class LakeFile:
    kind: str  # "data" or "delete"
    file_id: int
    table: str  # schema.table
    snapshot: int  # the snapshot that committed it
    path: str  # full path or URL
    size_bytes: int  # as DuckLake recorded it
    years: tuple[int, int] | None  # min and max of the table's `year` column in the file, when it has one

    def where(self) -> str:
        years = ("" if self.years is None else f", year {self.years[0]}" if self.years[0] == self.years[1]
                 else f", years {self.years[0]}-{self.years[1]}")
        what = "delete file" if self.kind == "delete" else "file"
        return f"{self.table} {what} {self.path} (snapshot {self.snapshot}{years})"


@dataclass(frozen=True)
class Damage:
    file: LakeFile
    problem: str  # "missing", "size ... instead of ...", "content does not match its checksum", ...

    def line(self) -> str:
        return f"{self.file.where()}: {self.problem}"


class LakeFileDamaged(AccidentsError):
    """A data file of the lake is missing or damaged (one line naming the table and the file)."""


def ensure_checksum_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_CHECKSUMS_DDL)


DATA_PATH_VARIABLE = "accidents_data_path"


def remember_data_path(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The data path the files' relative paths start from (set when the lake is opened)."""
    con.execute(f"SET VARIABLE {DATA_PATH_VARIABLE} = ?", [settings.resolved_data_path.rstrip("/") + "/"])


def live_files(con: duckdb.DuckDBPyConnection, *, every_snapshot: bool = False) -> list[LakeFile]:
    """Every data and delete file of the current snapshot (of every snapshot still in the catalog with
    `every_snapshot`), with its table, snapshot and years."""
    current = "" if every_snapshot else "WHERE end_snapshot IS NULL"
    # a connection opened elsewhere than connect() falls back on the path the catalog recorded
    root = con.execute(f"SELECT coalesce(getvariable('{DATA_PATH_VARIABLE}'), (SELECT value FROM "
                       f"{_META}.ducklake_metadata WHERE key = 'data_path'))").fetchone()[0]
    rows = con.execute(f"""
        WITH tables AS (
            SELECT t.table_id, s.schema_name || '.' || t.table_name AS name,
                   CASE WHEN s.path_is_relative THEN ? || s.path ELSE s.path END AS schema_path,
                   t.path, t.path_is_relative
            FROM {_META}.ducklake_table t JOIN {_META}.ducklake_schema s USING (schema_id)
            QUALIFY row_number() OVER (PARTITION BY t.table_id ORDER BY t.begin_snapshot DESC) = 1),
        years AS (
            SELECT st.data_file_id, min(TRY_CAST(st.min_value AS INTEGER)) AS y0, max(TRY_CAST(st.max_value AS INTEGER)) AS y1
            FROM {_META}.ducklake_file_column_stats st JOIN {_META}.ducklake_column c
              ON c.column_id = st.column_id AND c.table_id = st.table_id AND c.end_snapshot IS NULL
            WHERE c.column_name = 'year' GROUP BY 1),
        files AS (
            SELECT 'data' AS kind, data_file_id AS file_id, data_file_id, table_id, begin_snapshot, path,
                   path_is_relative, file_size_bytes FROM {_META}.ducklake_data_file {current}
            UNION ALL
            SELECT 'delete', delete_file_id, data_file_id, table_id, begin_snapshot, path, path_is_relative,
                   file_size_bytes FROM {_META}.ducklake_delete_file {current})
        SELECT f.kind, f.file_id, t.name, f.begin_snapshot,
               CASE WHEN f.path_is_relative THEN
                   (CASE WHEN t.path_is_relative THEN t.schema_path || t.path ELSE t.path END) || f.path
               ELSE f.path END,
               f.file_size_bytes, y.y0, y.y1
        FROM files f JOIN tables t USING (table_id) LEFT JOIN years y ON y.data_file_id = f.data_file_id
        ORDER BY t.name, f.begin_snapshot, f.kind, f.file_id""", [root]).fetchall()
    return [LakeFile(kind, int(fid), name, int(snap), path, int(size), (int(y0), int(y1)) if y0 is not None else None)
            for kind, fid, name, snap, path, size, y0, y1 in rows]


def _is_remote(path: str) -> bool:
    return "://" in path


def file_hash(con: duckdb.DuckDBPyConnection, path: str) -> tuple[str, int] | None:
    """(BLAKE3 hex digest, size) of a file or object; None when it does not exist."""
    digest = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if _is_remote(path):
        try:
            row = con.execute("SELECT content FROM read_blob(?)", [path]).fetchone()
        except Exception as exc:  # a missing object is "no files found"; a server failure stays an error
            if "no files found" in str(exc).lower() or "404" in str(exc):
                return None
            raise
        if row is None:
            return None
        digest.update(row[0])
        return digest.hexdigest(), len(row[0])
    try:
        with open(path, "rb") as handle:
            size = 0
            while block := handle.read(_BLOCK):
                digest.update(block)
                size += len(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest(), size


def _mtime_ns(path: str) -> int | None:
    if _is_remote(path):
        return None
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _recorded(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], tuple[int, str, int | None]]:
    return {(kind, int(fid)): (int(size), digest, mtime) for kind, fid, size, digest, mtime in con.execute(
        f"SELECT kind, file_id, size_bytes, blake3, mtime_ns FROM {CHECKSUMS}").fetchall()}


def record_checksums(con: duckdb.DuckDBPyConnection) -> int:
    """Hash the live files that have no checksum yet (those of the commits since the last call) and
    record them; returns how many. Runs in its own transaction, after the lake's commit."""
    ensure_checksum_table(con)
    recorded = _recorded(con)
    rows = []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for file in live_files(con):
        if (file.kind, file.file_id) in recorded:
            continue
        found = file_hash(con, file.path)
        if found is None:  # gone already (a concurrent maintain): nothing to record
            continue
        rows.append((file.kind, file.file_id, found[1], found[0], _mtime_ns(file.path), now))
    if rows:
        con.execute("BEGIN TRANSACTION")
        try:
            keys = [f"{kind}:{fid}" for kind, fid, *_ in rows]
            con.execute(f"DELETE FROM {CHECKSUMS} WHERE list_contains(?, kind || ':' || file_id)", [keys])
            con.executemany(f"INSERT INTO {CHECKSUMS} VALUES (?, ?, ?, ?, ?, ?)", rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return len(rows)


def forget_removed(con: duckdb.DuckDBPyConnection) -> int:
    """Drop the checksums of files the catalog no longer holds (deleted by maintenance)."""
    ensure_checksum_table(con)
    gone = con.execute(f"""
        SELECT count(*) FROM {CHECKSUMS} c WHERE NOT EXISTS (
            SELECT 1 FROM {_META}.ducklake_data_file d WHERE c.kind = 'data' AND d.data_file_id = c.file_id)
          AND NOT EXISTS (
            SELECT 1 FROM {_META}.ducklake_delete_file d WHERE c.kind = 'delete' AND d.delete_file_id = c.file_id)
        """).fetchone()[0]
    if gone:
        con.execute(f"""
            DELETE FROM {CHECKSUMS} WHERE NOT (
                (kind = 'data' AND file_id IN (SELECT data_file_id FROM {_META}.ducklake_data_file)) OR
                (kind = 'delete' AND file_id IN (SELECT delete_file_id FROM {_META}.ducklake_delete_file)))""")
    return int(gone)


def _check(con: duckdb.DuckDBPyConnection, file: LakeFile, recorded: tuple[int, str, int | None] | None
           ) -> str | None:
    """The problem of one file (None when it is sound)."""
    found = file_hash(con, file.path)
    if found is None:
        return "missing"
    digest, size = found
    if size != file.size_bytes:
        return f"{size:,} bytes instead of the {file.size_bytes:,} the catalog recorded (truncated or replaced)"
    if recorded is None:
        return None
    if digest != recorded[1]:
        return "content does not match its checksum (damaged)"
    return None


def verify_files(con: duckdb.DuckDBPyConnection, files: Iterable[LakeFile] | None = None
                 ) -> tuple[list[Damage], list[LakeFile], int]:
    """(the damaged or missing files, the files without a recorded checksum, files checked): every
    live file by default, each hashed whole."""
    recorded = _recorded(con) if table_present(con) else {}
    damaged, unrecorded, checked = [], [], 0
    for file in files if files is not None else live_files(con):
        known = recorded.get((file.kind, file.file_id))
        problem = _check(con, file, known)
        checked += 1
        if problem:
            damaged.append(Damage(file, problem))
        elif known is None:
            unrecorded.append(file)
    return damaged, unrecorded, checked


def damaged_error(damage: list[Damage], doing: str) -> LakeFileDamaged:
    more = f" (and {len(damage) - 1} other file(s))" if len(damage) > 1 else ""
    return LakeFileDamaged(f"{doing}: {damage[0].line()}{more}; run `accidents lake verify`, then "
                           "`accidents lake repair`")


def check_changed_files(con: duckdb.DuckDBPyConnection) -> None:
    """When a command opens the lake: re-hash the local files whose size or modification time changed
    since their checksum was recorded or last checked; LakeFileDamaged for the first that no longer
    matches, or a live file that is gone. Files on S3 are left to `lake verify`."""
    if not table_present(con):
        return
    recorded = _recorded(con)
    changed, refreshed = [], []
    for file in live_files(con):
        if _is_remote(file.path):
            continue
        known = recorded.get((file.kind, file.file_id))
        try:
            stat = os.stat(file.path)
        except FileNotFoundError:
            changed.append(Damage(file, "missing"))
            continue
        if known is None or (stat.st_size == known[0] and stat.st_mtime_ns == known[2]):
            continue
        problem = _check(con, file, known)
        if problem:
            changed.append(Damage(file, problem))
        else:
            refreshed.append((stat.st_mtime_ns, file.kind, file.file_id))
    if changed:
        raise damaged_error(changed, "the lake holds a damaged file")
    if refreshed:  # same content, touched or copied: remember the new time (best effort, never blocks)
        try:
            con.executemany(f"UPDATE {CHECKSUMS} SET mtime_ns = ? WHERE kind = ? AND file_id = ?", refreshed)
        except Exception:  # a read-only attach cannot write: the file is re-hashed next time
            pass


def inlined_row_tables(con: duckdb.DuckDBPyConnection) -> int:
    """Tables of the catalog holding rows DuckLake inlined (no file to checksum: a lake written before
    `connect` turned inlining off, or by another client); their rows live in the catalog database."""
    try:
        names = [r[0] for r in con.execute(f"SELECT table_name FROM {_META}.ducklake_inlined_data_tables").fetchall()]
        return sum(1 for name in names if con.execute(f'SELECT count(*) FROM {_META}."{name}"').fetchone()[0])
    except duckdb.Error:
        return 0


def table_present(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the catalog has the checksum table (a lake from before it has none until its next write)."""
    try:
        con.execute(f"SELECT 1 FROM {CHECKSUMS} LIMIT 0")
    except duckdb.CatalogException:
        return False
    return True


# A file path in a DuckDB message.
QUOTED_PATH = re.compile(r"""["']([^"']+\.parquet)["']""")


def remove_partial_files(con: duckdb.DuckDBPyConnection, *, since_ns: int, failure: BaseException | None,
                         sole_writer: bool) -> list[str]:
    """After a failed write transaction on a local data path: delete the files it left that the
    catalog does not hold. The file a write error names is this process's own; with `sole_writer`
    (an embedded catalog's write lock is held, so no other process is writing) so is every untracked
    file written since `since_ns`. Anything else is left to `lake maintain` (orphans past their grace
    period). Best effort: returns the paths removed."""
    try:
        root = con.execute(f"SELECT getvariable('{DATA_PATH_VARIABLE}')").fetchone()[0]
        if not root or _is_remote(root):
            return []
        known = {f.path for f in live_files(con, every_snapshot=True)}
    except Exception:  # the catalog is gone too: maintain will find the orphans
        return []
    candidates = set()
    named = QUOTED_PATH.search(str(duckdb_error(failure) or ""))
    if named and named[1].startswith(root):
        candidates.add(named[1])
    if sole_writer:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    if name.endswith(".parquet") and os.stat(path).st_mtime_ns >= since_ns:
                        candidates.add(path)
                except OSError:
                    continue
    removed = []
    for path in sorted(candidates - known):
        try:
            os.remove(path)
            removed.append(path)
        except OSError:
            continue
    return removed
