"""`accidents run`: the whole chain on one lake (default: offline demo data)."""

from __future__ import annotations

import time

from pipeline.cli.ingest import add_source_arguments, run_ingest


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run the whole chain: ingest (later: features, models, predictions)")
    add_source_arguments(parser)
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    started = time.perf_counter()
    print("== ingest")
    run_ingest(args, settings)
    print(f"== done in {time.perf_counter() - started:.1f} s")
    return 0
