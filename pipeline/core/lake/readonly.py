"""Read-only queries on the lake for users (`accidents sql`): one SELECT-like statement whose every
call is allow-listed (sql_allow.py), on a connection that can no longer touch files, attach
databases or change its own settings, within a time and a memory limit.

Three locks, because none is enough alone: the lake is attached READ_ONLY, but DuckDB would still
ATTACH the catalog again (writable) or COPY into the data folder; `enable_external_access = false`
blocks files outside the lake but not those two, nor table functions reading the data folder or
writing it (ducklake_merge_adjacent_files); the allow-list refuses every call not reviewed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from pipeline.core.errors import AccidentsError
from pipeline.core.lake.failures import first_line
from pipeline.core.lake.sql_allow import check_query

if TYPE_CHECKING:
    import duckdb

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_LIMIT = "2GB"


def lock_down(con: duckdb.DuckDBPyConnection, data_path: str, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> None:
    """After the lake is attached: only the lake's own data files stay reachable, the query's memory
    is capped (DuckDB's default is 80 % of RAM), and no setting (this one included) can be changed
    again."""
    quoted = data_path.replace("'", "''")
    try:
        con.execute("SET memory_limit = ?", [memory_limit])
    except Exception as exc:
        raise AccidentsError(f"--memory-limit {memory_limit!r}: {first_line(exc)} (e.g. 2GB, 512MB)") from None
    con.execute(f"SET allowed_directories = ['{quoted}']")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")


def run_query(con: duckdb.DuckDBPyConnection, query: str, max_rows: int,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[list[str], list[tuple], bool]:
    """(column names, at most `max_rows` rows, whether there were more) of one allowed statement,
    interrupted after `timeout_s`; AccidentsError (one line) for anything refused or failing. The
    cause of a failure is kept, so that a failing server can be named."""
    try:
        check_query(con, query)
    except AccidentsError:
        raise
    except Exception as exc:
        raise AccidentsError(f"SQL error: {first_line(exc)}") from exc
    outcome: dict = {}

    def work() -> None:
        try:
            relation = con.sql(query)
            names = list(relation.columns)
            rows = relation.fetchmany(max_rows + 1)
            outcome["result"] = (names, rows[:max_rows], len(rows) > max_rows)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="accidents-sql", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        con.interrupt()
        worker.join(10)
        raise AccidentsError(f"SQL: the query ran longer than its time limit of {timeout_s:g} s and was stopped "
                             "(raise it with --timeout)")
    if "error" in outcome:
        exc = outcome["error"]
        if "memory" in str(exc).lower() and "limit" in str(exc).lower():
            raise AccidentsError(f"SQL: the query needs more memory than its limit (--memory-limit): "
                                 f"{first_line(exc)}") from exc
        raise AccidentsError(f"SQL error: {first_line(exc)}") from exc
    return outcome["result"]
