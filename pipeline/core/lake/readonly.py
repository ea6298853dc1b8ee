"""Read-only queries on the lake for users (`accidents sql`): one SELECT-like statement, on a
connection that can no longer touch files, attach databases or change its own settings.

Two locks, because neither is enough alone: the lake is attached READ_ONLY, but DuckDB would still
ATTACH the catalog again (writable) or COPY into the data folder; `enable_external_access = false`
blocks files outside the lake but not those two. So statements are allow-listed by type as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.core.errors import AccidentsError

if TYPE_CHECKING:
    import duckdb

# DESCRIBE, SHOW, SUMMARIZE, FROM ..., PRAGMA x are SELECTs too. Not EXPLAIN: EXPLAIN ANALYZE runs its
# statement, COPY included.
ALLOWED_STATEMENTS = ("SELECT",)


def lock_down(con: duckdb.DuckDBPyConnection, data_path: str) -> None:
    """After the lake is attached: only the lake's own data files stay reachable, and no setting
    (this one included) can be changed again."""
    quoted = data_path.replace("'", "''")
    con.execute(f"SET allowed_directories = ['{quoted}']")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET lock_configuration = true")


def _one_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def read_only_relation(con: duckdb.DuckDBPyConnection, query: str) -> duckdb.DuckDBPyRelation:
    """The relation of one allowed statement; AccidentsError (one line) for anything else."""
    try:
        statements = con.extract_statements(query)
    except Exception as exc:
        raise AccidentsError(f"SQL error: {_one_line(exc)}") from exc  # the cause names a failing server
    if len(statements) != 1:
        raise AccidentsError(f"SQL: give exactly one statement (got {len(statements)})")
    kind = statements[0].type.name
    if kind not in ALLOWED_STATEMENTS:
        raise AccidentsError(f"SQL: {kind} statements are not allowed, `accidents sql` is read-only "
                             f"(allowed: {', '.join(ALLOWED_STATEMENTS)})")
    try:
        return con.sql(query)
    except Exception as exc:
        raise AccidentsError(f"SQL error: {_one_line(exc)}") from exc  # the cause names a failing server


def show(relation: duckdb.DuckDBPyRelation, max_rows: int) -> None:
    """Print the result; errors raised while the query runs (casts, division...) become one line."""
    try:
        relation.show(max_rows=max_rows, max_width=200)
    except Exception as exc:
        raise AccidentsError(f"SQL error: {_one_line(exc)}") from exc  # the cause names a failing server
