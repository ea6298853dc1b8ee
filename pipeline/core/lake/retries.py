"""Retrying what a concurrent writer got in the way of: a locked SQLite catalog, a PostgreSQL
serialization failure, a DuckLake commit conflict, two processes creating one catalog at once."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from pipeline.core.lake.failures import LakeBusy

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")

# Two processes opening a new catalog at once both create its tables; the loser's transaction fails
# on the catalog's unique names and rolls back, and a fresh attach then finds the winner's catalog.
CONCURRENT_INIT = re.compile(r"Failed to initialize DuckLake.*(duplicate key|already exists)",
                             re.IGNORECASE | re.DOTALL)

# What a concurrent writer causes and a retry cures: a locked SQLite catalog, a PostgreSQL
# serialization failure, a DuckLake commit conflict (e.g. both deleting from one data file). "conflict" as
# a whole word: a DuckDB-file catalog held by another process ("Conflicting lock is held") stays held for
# that process's life, so waiting for it would only delay the clear error.
TRANSIENT = re.compile(r"database is locked|busy|could not serialize|another transaction|\bconflict\b",
                       re.IGNORECASE)


def with_retries(action: Callable[[], T], attempts: int = 20, transient: re.Pattern[str] | None = None) -> T:
    """Run `action`, again after a growing pause when a concurrent writer got in the way."""
    transient = transient or TRANSIENT
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


def execute_with_retry(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    with_retries(lambda: con.execute(sql))
