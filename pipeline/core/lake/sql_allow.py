"""What a user's query (`accidents sql`) may call: an allow-list, checked on DuckDB's own parse tree
before anything runs.

A query is one SELECT (DESCRIBE, SUMMARIZE, SHOW and FROM-first queries are SELECTs too). Its parse
tree (`json_serialize_sql`) is walked, and every name it calls must be allowed:
- tables: those of the lake's schemas (bronze, silver, gold, optionally `lake.`-qualified), the
  query's own CTEs, and a few information_schema views;
- table functions: TABLE_FUNCTIONS below, each allowed on purpose (none reads or writes a file or
  another database, none runs SQL text), and DuckLake's `lake.snapshots()`-style short forms;
- scalar, aggregate and window functions, operators and macros: the reviewed list in
  `data/sql_functions.txt` (DuckDB's ordinary functions, those of the extensions the project loads
  included, less REFUSED_FUNCTIONS).
tests/core/test_sql_allow.py enumerates every function DuckDB offers with the project's extensions
loaded and fails on any that is neither allowed nor refused here, so a new DuckDB release cannot open
a hole unnoticed: review the new names, then `python -m pipeline.core.lake.sql_allow --write` rewrites the
list.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import duckdb

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import install_extensions

LAKE_SCHEMAS = ("bronze", "silver", "gold")
CATALOG_VIEWS = {"information_schema": ("tables", "columns", "schemata", "views")}
# Table functions a query may call, each on purpose.
TABLE_FUNCTIONS = {
    "range": "numbers", "generate_series": "numbers", "unnest": "a list's items", "repeat": "a value n times",
    "json_each": "a JSON value's items", "json_tree": "a JSON value's tree",
    "duckdb_tables": "catalog", "duckdb_columns": "catalog", "duckdb_views": "catalog",
    "duckdb_schemas": "catalog", "duckdb_types": "catalog", "duckdb_functions": "catalog",
    "duckdb_keywords": "catalog", "duckdb_constraints": "catalog",
    "ducklake_snapshots": "the lake's snapshots", "ducklake_current_snapshot": "the lake's snapshot",
    "ducklake_last_committed_snapshot": "the lake's snapshot", "ducklake_table_info": "the lake's tables",
    "ducklake_list_files": "the lake's data files", "ducklake_table_changes": "a lake table's changes",
    "ducklake_table_insertions": "a lake table's changes", "ducklake_table_deletions": "a lake table's changes",
    "icu_calendar_names": "constants", "pg_timezone_names": "constants",
}
# DuckLake's short forms on the attached lake: `lake.snapshots()` and so on (macros of the catalog).
LAKE_TABLE_MACROS = ("snapshots", "current_snapshot", "last_committed_snapshot", "table_info", "table_changes",
                     "table_insertions", "table_deletions")
# Functions DuckDB offers that a query may not call, each with the reason. Table functions not in
# TABLE_FUNCTIONS are refused too; the test asks every table function to be in one of the two.
REFUSED_FUNCTIONS = {
    **{name: "reads files" for name in (
        "read_parquet", "parquet_scan", "read_csv", "read_csv_auto", "read_json", "read_json_auto",
        "read_json_objects", "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects",
        "read_text", "read_blob", "read_duckdb", "sniff_csv", "glob", "parquet_metadata", "parquet_schema",
        "parquet_file_metadata", "parquet_kv_metadata", "parquet_full_metadata", "parquet_bloom_probe",
        "ST_Read", "ST_ReadOSM", "ST_ReadSHP", "ST_Read_Meta", "shapefile_meta", "ST_Drivers",
        "read_postgres_binary")},
    **{name: "reads or writes another database" for name in (
        "sqlite_scan", "sqlite_query", "sqlite_attach", "postgres_scan", "postgres_scan_pushdown",
        "postgres_query", "postgres_execute", "postgres_attach", "postgres_configure_pool", "pg_clear_cache")},
    **{name: "changes the lake (maintenance)" for name in (
        "ducklake_merge_adjacent_files", "ducklake_rewrite_data_files", "ducklake_cleanup_old_files",
        "ducklake_delete_orphaned_files", "ducklake_expire_snapshots", "ducklake_flush_inlined_data",
        "ducklake_add_data_files", "ducklake_set_option", "ducklake_set_commit_message", "ducklake_commit",
        "checkpoint", "force_checkpoint")},
    **{name: "runs SQL given as text (would bypass this check)" for name in (
        "query", "query_table", "json_execute_serialized_sql", "histogram", "histogram_values", "summary",
        "pragma_table_info", "pragma_storage_info", "duckdb_table_sample", "ducklake_scan", "seq_scan")},
    **{name: "shows settings, secrets or the process's state" for name in (
        "ducklake_options", "ducklake_settings", "duckdb_settings", "duckdb_secrets", "which_secret",
        "duckdb_secret_types", "duckdb_extensions", "duckdb_databases", "duckdb_memory", "duckdb_temporary_files",
        "duckdb_external_file_cache", "duckdb_logs", "duckdb_logs_parsed", "duckdb_log_contexts",
        "duckdb_variables", "duckdb_prepared_statements", "duckdb_connection_count", "duckdb_approx_database_count",
        "duckdb_optimizers", "duckdb_profiling_settings", "duckdb_sequences", "duckdb_indexes",
        "duckdb_dependencies", "duckdb_coordinate_systems", "pragma_database_size", "pragma_metadata_info",
        "pragma_platform", "pragma_user_agent", "pragma_version", "pragma_show", "pragma_collations",
        "pragma_rtree_index_info", "rtree_index_dump", "rtree_index_scan", "current_setting", "current_query",
        "pg_conf_load_time", "pg_postmaster_start_time", "truncate_duckdb_logs")},
    **{name: "changes the process's state" for name in (
        "enable_logging", "disable_logging", "enable_profiling", "disable_profiling", "write_log", "nextval",
        "currval", "setseed")},
    **{name: "sleeps (a query that only waits)" for name in ("pg_sleep", "sleep_ms")},
    **{name: "internal to the Python client or the tests" for name in (
        "arrow_scan", "arrow_scan_dumb", "pandas_scan", "python_map_function", "test_all_types",
        "test_vector_types", "ST_GeneratePoints", "repeat_row")},
}
# Every extension the project loads, whatever the catalog and data path (lake.py, spatial work).
PROJECT_EXTENSIONS = ("ducklake", "sqlite", "postgres", "httpfs", "spatial")
_REFUSED_LOWER = {name.lower(): why for name, why in REFUSED_FUNCTIONS.items()}
FUNCTIONS_FILE = Path(__file__).parents[1] / "data" / "sql_functions.txt"
_CALLABLE_TYPES = ("scalar", "aggregate", "macro")


@cache
def allowed_functions() -> frozenset[str]:
    """The reviewed scalar, aggregate and window functions, operators and macros (lower-cased)."""
    names = [line.strip() for line in FUNCTIONS_FILE.read_text(encoding="utf-8").splitlines()]
    return frozenset(name.lower() for name in names if name and not name.startswith("#"))


def offered_functions(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every function the connection offers (its loaded extensions' included): name -> type."""
    return {name: kind for name, kind in con.execute(
        "SELECT DISTINCT function_name, function_type FROM duckdb_functions() "
        "WHERE function_type <> 'pragma'").fetchall()}


class QueryRefused(AccidentsError):
    """A user's query calls something outside the allow-list."""


def check_query(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Raise QueryRefused (one line naming the call) unless every table and function `query` calls
    is allowed."""
    count = len(con.extract_statements(query))
    if count != 1:
        raise QueryRefused(f"SQL: give exactly one statement (got {count})")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?::VARCHAR)", [query]).fetchone()[0])
    if tree.get("error"):
        message = tree.get("error_message", "")
        if "Only SELECT" in message:
            raise QueryRefused("SQL: only one SELECT-like statement is allowed (SELECT, FROM, DESCRIBE, SUMMARIZE, "
                               "SHOW), `accidents sql` is read-only")
        raise QueryRefused(f"SQL error: {message.splitlines()[0] if message else 'cannot parse the query'}")
    _Walk().node(tree["statements"][0], frozenset())


# The table references a query may hold (a dict of the parse tree with an "alias" and a "sample", no
# expression "class"); every other kind is refused. Tables and table functions are checked by name below.
ALLOWED_REFS = {"BASE_TABLE", "TABLE_FUNCTION", "SUBQUERY", "JOIN", "EXPRESSION_LIST", "EMPTY", "PIVOT", "SHOW_REF"}
# SHOW/DESCRIBE/SUMMARIZE: of a query or table (checked like any other), or SHOW TABLES (the lake's);
# not SHOW DATABASES or SHOW ALL TABLES, which list the catalog database's own tables.
ALLOWED_SHOWS = {("DESCRIBE", ""), ("SUMMARY", ""), ("SHOW_UNQUALIFIED", '"tables"')}


class _Walk:
    """Every dict of the parse tree, with the CTE names in scope."""

    def node(self, value, ctes: frozenset[str]) -> None:
        if isinstance(value, list):
            for item in value:
                self.node(item, ctes)
            return
        if not isinstance(value, dict):
            return
        cte_map = value.get("cte_map")
        if isinstance(cte_map, dict) and cte_map.get("map"):
            ctes = ctes | {entry["key"].lower() for entry in cte_map["map"]}
        kind = value.get("type") if isinstance(value.get("type"), str) else None
        if kind and "alias" in value and "sample" in value and "class" not in value:  # a table reference
            self.table_reference(value)
        if kind == "BASE_TABLE":
            self.table(value, ctes)
        elif kind == "TABLE_FUNCTION":
            self.table_function(value["function"])
            for child in value["function"].get("children", []):
                self.node(child, ctes)
            return
        elif value.get("class") in ("FUNCTION", "WINDOW", "AGGREGATE"):
            self.function(value)
        for child in value.values():
            self.node(child, ctes)

    @staticmethod
    def table_reference(ref: dict) -> None:
        kind = ref["type"]
        if kind not in ALLOWED_REFS:
            raise QueryRefused(f"SQL: a {kind} table reference is not allowed in `accidents sql`")
        if kind == "SHOW_REF" and (ref.get("show_type"), ref.get("table_name", "")) not in ALLOWED_SHOWS:
            raise QueryRefused("SQL: of the SHOW statements only SHOW TABLES, DESCRIBE and SUMMARIZE are allowed "
                               "in `accidents sql` (the lake's tables: bronze.*, silver.*, gold.*)")

    @staticmethod
    def table(ref: dict, ctes: frozenset[str]) -> None:
        catalog, schema, table = ref.get("catalog_name", ""), ref.get("schema_name", ""), ref["table_name"]
        if not catalog and not schema and table.lower() in ctes:
            return
        if catalog in ("", "lake") and schema.lower() in LAKE_SCHEMAS:
            return
        if not catalog and table.lower() in CATALOG_VIEWS.get(schema.lower(), ()):
            return
        shown = ".".join(part for part in (catalog, schema, table) if part)
        raise QueryRefused(f"SQL: table {shown!r} is not a table of the lake (bronze.*, silver.*, gold.*; "
                           "name the schema)")

    @staticmethod
    def table_function(function: dict) -> None:
        name, schema = function["function_name"], (function.get("schema") or "").lower()
        if schema == "lake" and not function.get("catalog") and name.lower() in LAKE_TABLE_MACROS:
            return
        if schema not in ("", "main") or function.get("catalog"):
            raise QueryRefused(f"SQL: table function {schema}.{name}() is not allowed in `accidents sql`")
        if name.lower() not in TABLE_FUNCTIONS:
            why = _REFUSED_LOWER.get(name.lower(), "not on the allow-list")
            raise QueryRefused(f"SQL: table function {name}() is not allowed in `accidents sql` ({why})")

    @staticmethod
    def function(call: dict) -> None:
        name = call.get("function_name", "")
        if call.get("catalog") or call.get("schema") not in ("", "main", "pg_catalog", None):
            raise QueryRefused(f"SQL: function {name}() must not be qualified by a schema or catalog")
        if name.lower() not in allowed_functions():
            why = _REFUSED_LOWER.get(name.lower(), "not on the allow-list")
            raise QueryRefused(f"SQL: function {name}() is not allowed in `accidents sql` ({why})")


def _write_list() -> None:
    """Rewrite data/sql_functions.txt from the functions DuckDB offers now, less the refused ones."""
    con = duckdb.connect()
    install_extensions(con, PROJECT_EXTENSIONS)
    names = sorted(name for name, kind in offered_functions(con).items()
                   if kind in _CALLABLE_TYPES and name not in REFUSED_FUNCTIONS)
    FUNCTIONS_FILE.write_text("# Reviewed by pipeline/core/lake/sql_allow.py: scalar, aggregate and window functions,\n"
                              "# operators and macros a user's query may call. Regenerate with\n"
                              "# `python -m pipeline.core.lake.sql_allow --write` after reviewing the new names.\n"
                              + "\n".join(names) + "\n", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    import sys

    if sys.argv[1:] == ["--write"]:
        _write_list()
