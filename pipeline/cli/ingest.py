"""`accidents ingest`: BAAC files (data.gouv.fr, a local folder or the offline demo) -> bronze."""

from __future__ import annotations

import argparse

from pipeline.cli.common import parse_departments, parse_years

DEFAULT_YEARS = "2019-2024"


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--years", default=DEFAULT_YEARS, help="YEAR, FIRST-LAST or a comma list (default %(default)s)")
    parser.add_argument("--dep", default=None, help="département code(s), comma separated (default: ACCIDENTS_DEPS or 988)")
    parser.add_argument("--source", default="demo",
                        help="datagouv (download), demo (offline synthetic data) or a folder of BAAC files (default %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="demo generator seed (default: ACCIDENTS_SEED or 42)")
    parser.add_argument("--scale", type=float, default=1.0, help="demo volume multiplier (default %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="replace a year even if it would keep far fewer accidents than the lake holds")


def register(subparsers) -> None:
    parser = subparsers.add_parser("ingest", help="load BAAC files into the bronze tables")
    add_source_arguments(parser)
    parser.set_defaults(func=run)


def run_ingest(args, settings):
    """Shared by `ingest` and `run`: resolve the source, ingest, print the accounting."""
    from pipeline.lake import lake_connection
    from pipeline.sources.select import resolve_source
    from pipeline.stage_ingest import IngestRefused, ingest_years

    years = parse_years(args.years)
    deps = parse_departments(args.dep) if args.dep else settings.departments
    seed = settings.seed if args.seed is None else args.seed
    files, label = resolve_source(args.source, years, settings, seed=seed, scale=args.scale)
    with lake_connection(settings) as con:
        try:
            summary = ingest_years(con, files, departments=deps, source=label, force=args.force)
        except IngestRefused as exc:  # the years written are worth showing before the one-line error
            if exc.summary.files:
                print(exc.summary.table())
            raise
    print(summary.table())
    synthetic = " (SYNTHETIC demo data)" if label == "demo" else ""
    print(f"ingested {len(years)} year(s) for département(s) {', '.join(deps)}{synthetic}: "
          f"{summary.accidents} accidents, {summary.rejected} rejected rows, {summary.seconds:.1f} s")
    return summary


def run(args, settings) -> int:
    run_ingest(args, settings)
    return 0
