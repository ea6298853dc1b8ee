"""Lake inspection and upkeep commands: `tables`, `sql`, `lake attach-sql`, `lake maintain`."""

from __future__ import annotations


def register(subparsers) -> None:
    tables = subparsers.add_parser("tables", help="list the lake's tables, row counts and current snapshot")
    tables.set_defaults(func=run_tables)

    sql = subparsers.add_parser("sql", help="run a SQL query on the lake (read-only) and print the result")
    sql.add_argument("query", help='e.g. "SELECT year, count(*) FROM bronze.accidents GROUP BY 1"')
    sql.add_argument("--max-rows", type=int, default=100)
    sql.set_defaults(func=run_sql)

    lake = subparsers.add_parser("lake", help="lake utilities")
    lake_sub = lake.add_subparsers(dest="lake_command", metavar="COMMAND")
    attach = lake_sub.add_parser("attach-sql", help="print the SQL that opens this lake in the duckdb CLI")
    attach.add_argument("--read-write", action="store_true", help="attach writable (default read-only)")
    attach.set_defaults(func=run_attach_sql)

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


def run_sql(args, settings) -> int:
    from pipeline.core.errors import AccidentsError
    from pipeline.core.lake import lake_connection, scrub, server_error
    from pipeline.core.lake.readonly import lock_down, read_only_relation, show

    if args.max_rows < 1:
        raise AccidentsError("--max-rows must be at least 1")
    with lake_connection(settings, read_only=True) as con:
        lock_down(con, settings.resolved_data_path)
        try:
            relation = read_only_relation(con, args.query)
            if relation is not None:
                show(relation, args.max_rows)
        except AccidentsError as exc:  # a failing server is named; secrets never echoed
            cause = exc.__cause__
            raise (server_error(settings, cause) if cause is not None else None) \
                or AccidentsError(scrub(settings, str(exc))) from None
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


def run_maintain(args, settings) -> int:
    from pipeline.core.lake import lake_connection
    from pipeline.core.params import from_namespace
    from pipeline.usecases.maintenance import MaintenanceParams, maintain_lake

    params = from_namespace(MaintenanceParams, args)
    with lake_connection(settings) as con:
        report = maintain_lake(con, settings, params)
    for line in report.lines():
        print(line)
    return 0
