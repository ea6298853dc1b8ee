"""Lake inspection and upkeep commands: `tables`, `sql`, `lake attach-sql`, `lake maintain`."""

from __future__ import annotations

import sys

import duckdb

from pipeline.cli.sql_output import render
from pipeline.core.errors import AccidentsError
from pipeline.core.lake import (
    attach_statements,
    current_snapshot,
    install_extensions,
    lake_connection,
    list_tables,
    required_extensions,
    scrub,
    storage_error,
    without_password,
)
from pipeline.core.lake.readonly import lock_down, run_query
from pipeline.core.params import from_namespace
from pipeline.usecases.lake_integrity import repair_lake, verify_lake
from pipeline.usecases.maintenance import MaintenanceParams, maintain_lake


def run_tables(args, settings) -> int:
    with lake_connection(settings) as con:
        rows = list_tables(con)
        snapshot = current_snapshot(con)
    width = max([len(name) for name, _ in rows] + [5])
    for name, count in rows:
        print(f"{name:<{width}}  {count:>10}")
    print(f"{len(rows)} tables, current snapshot {snapshot}")
    return 0


_MAX_QUERY_CHARS = 1 << 20


def _query_text(args) -> str:
    if (args.query is None) == (args.file is None):
        raise AccidentsError("sql: give the query as an argument or with --file (one of them)")
    if args.file is None:
        return args.query
    if args.file == "-":
        return sys.stdin.read()
    try:
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read(_MAX_QUERY_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise AccidentsError(f"--file {args.file}: cannot read the query: {getattr(exc, 'strerror', None) or exc}") \
            from None
    if len(text) > _MAX_QUERY_CHARS:
        raise AccidentsError(f"--file {args.file}: longer than {_MAX_QUERY_CHARS:,} characters, not a query")
    return text


def run_sql(args, settings) -> int:
    if args.max_rows < 1:
        raise AccidentsError("--max-rows must be at least 1")
    if not 0 < args.timeout <= 86400:
        raise AccidentsError(f"--timeout {args.timeout:g}: expected 0-86400 seconds")
    query = _query_text(args)
    if not query.strip():
        raise AccidentsError("sql: the query is empty")
    with lake_connection(settings, read_only=True) as con:
        lock_down(con, settings.resolved_data_path, args.memory_limit)
        try:
            names, rows, more = run_query(con, query, args.max_rows, args.timeout)
        except AccidentsError as exc:  # a failing server or a damaged file is named; secrets never echoed
            cause = exc.__cause__
            raise (storage_error(settings, cause) if cause is not None else None) \
                or AccidentsError(scrub(settings, str(exc))) from None
    print(render(names, rows, args.format))
    if more:  # on stderr: CSV and JSON output stays data only
        print(f"note: only the first {len(rows)} rows are shown (--max-rows)", file=sys.stderr)
    return 0


def run_attach_sql(args, settings) -> int:
    # The duckdb CLI of the same version loads extensions from ~/.duckdb: make sure they are there.
    con = duckdb.connect()
    install_extensions(con, required_extensions(settings))
    con.close()
    print("-- paste into `duckdb` (the project's CLI, same version); secrets are read with getenv()")
    if settings.catalog == "postgres" and without_password(settings.postgres_dsn) != settings.postgres_dsn:
        print("-- the password of ACCIDENTS_PG_DSN is left out: export PGPASSWORD before starting duckdb")
    for statement in attach_statements(settings, read_only=not args.read_write, for_cli=True):
        print(statement)
    return 0


def run_verify(args, settings) -> int:
    with lake_connection(settings, read_only=True, check_files=False) as con:
        report = verify_lake(con)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def run_repair(args, settings) -> int:
    with lake_connection(settings, check_files=False) as con:
        report = repair_lake(con, settings)
    for line in report.lines():
        print(line)
    return 0


def run_maintain(args, settings) -> int:
    params = from_namespace(MaintenanceParams, args)
    with lake_connection(settings, check_files=False) as con:
        report = maintain_lake(con, settings, params)
    for line in report.lines():
        print(line)
    return 0
