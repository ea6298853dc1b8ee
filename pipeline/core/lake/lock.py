"""Concurrent processes on an embedded catalog: one write lock file next to it.

A SQLite (or DuckDB-file) catalog has no server to arbitrate writers: two processes committing at
once fail with "database is locked" (which `committed` does not replay: a stage's whole write
would be redone) or a DuckLake conflict. So every write path (committed, ensure_tables, connect)
takes one lock file next to the catalog, waiting at most WRITE_LOCK_TIMEOUT_S, and the catalog runs
in WAL mode so readers never block on a writer. A PostgreSQL catalog arbitrates itself (DuckLake
retries; `committed` replays a refused commit).
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.errors import AccidentsError
from pipeline.core.lake.attach import attached_catalog
from pipeline.core.lake.failures import LakeBusy

if TYPE_CHECKING:
    import duckdb

WRITE_LOCK_TIMEOUT_S = 300.0
_held: dict[str, list] = {}  # lock path -> [thread lock, open file or None, depth]
_held_guard = threading.Lock()


def use_wal(path: Path) -> None:
    """Put the SQLite catalog at `path` in WAL mode, so readers never wait for a writer."""
    try:
        with sqlite3.connect(path, timeout=WRITE_LOCK_TIMEOUT_S) as db:
            db.execute("PRAGMA journal_mode=WAL")
        db.close()
    except sqlite3.Error as exc:
        raise AccidentsError(f"cannot open the lake catalog {path}: {exc}") from None


def lock_path(con: duckdb.DuckDBPyConnection) -> str | None:
    path, _ = attached_catalog(con)  # a server catalog arbitrates its writers itself
    return None if path is None else path + ".write-lock"


@contextmanager
def write_lock(con: duckdb.DuckDBPyConnection, timeout: float | None = None) -> Iterator[None]:
    """Hold the embedded catalog's write lock (re-entrant within a thread) for the block."""
    path = lock_path(con)
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


def _busy(path: str, timeout: float) -> LakeBusy:
    return LakeBusy(f"the lake is busy: another process has been writing to it for more than "
                          f"{timeout:.0f} s (lock {path}); try again when it has finished")
