"""`accidents ingest`: BAAC files (data.gouv.fr, a local folder or the offline demo) -> bronze."""

from __future__ import annotations

from pipeline.bronze.ingest import IngestRefused
from pipeline.bronze.params import IngestParams
from pipeline.core.params import from_namespace
from pipeline.usecases.ingest import ingest


def print_ingest(outcome) -> None:
    summary = outcome.summary
    print(summary.table())
    synthetic = " (SYNTHETIC demo data)" if outcome.source.synthetic else ""
    print(f"ingested {len(outcome.years)} year(s) for département(s) {', '.join(outcome.departments)}{synthetic}: "
          f"{summary.accidents} accidents, {summary.rejected} rejected rows, {summary.seconds:.1f} s")


def run(args, settings) -> int:
    try:
        print_ingest(ingest(settings, from_namespace(IngestParams, args)))
    except IngestRefused as exc:  # the years written are worth showing before the one-line error
        if exc.summary.files:
            print(exc.summary.table())
        raise
    return 0
