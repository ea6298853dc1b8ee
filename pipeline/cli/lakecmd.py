"""Lake inspection and upkeep commands: `tables`, `sql`, `lake attach-sql`, `lake maintain`."""

from __future__ import annotations


def register(subparsers) -> None:
    tables = subparsers.add_parser("tables", help="list the lake's tables, row counts and current snapshot")
    tables.set_defaults(func=run_tables)

    sql = subparsers.add_parser(
        "sql", help="run a SQL query on the lake (read-only) and print the result",
        description="One SELECT-like statement (SELECT, FROM, DESCRIBE, SUMMARIZE, SHOW) on the lake's tables "
                    "(bronze.*, silver.*, gold.*), with DuckDB's ordinary functions and the catalog views "
                    "(ducklake_snapshots('lake'), information_schema); no file, other database or setting.")
    sql.add_argument("query", nargs="?", help='e.g. "SELECT year, count(*) FROM bronze.accidents GROUP BY 1"; '
                                              "or give --file")
    sql.add_argument("--file", "-f", help="read the query from this file ('-' for standard input)")
    sql.add_argument("--format", choices=("table", "csv", "json", "markdown"), default="table")
    sql.add_argument("--max-rows", type=int, default=100, help="rows printed at most (default %(default)s)")
    sql.add_argument("--timeout", type=float, default=60.0, help="seconds before the query is stopped "
                                                                 "(default %(default)s)")
    sql.add_argument("--memory-limit", default="2GB", help="memory the query may use (default %(default)s)")
    sql.set_defaults(func=run_sql)

    lake = subparsers.add_parser("lake", help="lake utilities")
    lake_sub = lake.add_subparsers(dest="lake_command", metavar="COMMAND")
    attach = lake_sub.add_parser("attach-sql", help="print the SQL that opens this lake in the duckdb CLI")
    attach.add_argument("--read-write", action="store_true", help="attach writable (default read-only)")
    attach.set_defaults(func=run_attach_sql)

    verify = lake_sub.add_parser(
        "verify", help="check every data file of the lake against its recorded size and checksum",
        description="Reads every live data and delete file (local or S3) and compares its size with the "
                    "catalog's and its BLAKE3 hash with the one recorded at its commit. Lists the damaged or "
                    "missing ones by table, file, snapshot and years; exit code 1 when there is one.")
    verify.set_defaults(func=run_verify)
    repair = lake_sub.add_parser(
        "repair", help="rebuild damaged bronze tables from the cached source files; drop damaged derived ones",
        description="Bronze tables are rebuilt from the cached BAAC files, which must still match the SHA-256 "
                    "recorded at ingest; silver and gold are marked stale (damaged ones are dropped) and are "
                    "rebuilt by their stage. Refuses, changing nothing, what cannot be repaired.")
    repair.set_defaults(func=run_repair)

    maintain = lake_sub.add_parser(
        "maintain", help="merge small files, expire old snapshots, delete unreferenced and orphaned files",
        description="DuckLake upkeep (also a weekly Dagster job): prints the data path's files and bytes "
                    "before and after. Time travel reaches back --retention-days.")
    from pipeline.core.params import add_arguments
    from pipeline.usecases.maintenance import MaintenanceParams

    add_arguments(maintain, MaintenanceParams)
    maintain.set_defaults(func=run_maintain)


def run_tables(args, settings) -> int:
    from pipeline.core.lake import current_snapshot, lake_connection, list_tables

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
    import sys

    from pipeline.core.errors import AccidentsError

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
    import sys

    from pipeline.cli.sql_output import render
    from pipeline.core.errors import AccidentsError
    from pipeline.core.lake import lake_connection, scrub, storage_error
    from pipeline.core.lake.readonly import lock_down, run_query

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
    from pipeline.core.lake import attach_statements, install_extensions, required_extensions, without_password

    import duckdb

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
    from pipeline.core.lake import lake_connection
    from pipeline.usecases.lake_integrity import verify_lake

    with lake_connection(settings, read_only=True, check_files=False) as con:
        report = verify_lake(con)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def run_repair(args, settings) -> int:
    from pipeline.core.lake import lake_connection
    from pipeline.usecases.lake_integrity import repair_lake

    with lake_connection(settings, check_files=False) as con:
        report = repair_lake(con, settings)
    for line in report.lines():
        print(line)
    return 0


def run_maintain(args, settings) -> int:
    from pipeline.core.lake import lake_connection
    from pipeline.core.params import from_namespace
    from pipeline.usecases.maintenance import MaintenanceParams, maintain_lake

    params = from_namespace(MaintenanceParams, args)
    with lake_connection(settings, check_files=False) as con:
        report = maintain_lake(con, settings, params)
    for line in report.lines():
        print(line)
    return 0
