"""Ingest of the demo files (generated beforehand) into a fresh embedded lake, through the use case."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.adapters.fixtures import demo_folder


def ingest_demo(work_dir: str, scale: float) -> dict:
    from pipeline.bronze.params import IngestParams
    from pipeline.core.settings import Settings
    from pipeline.sources.select import DEMO_YEARS, FolderSource
    from pipeline.usecases.ingest import ingest

    folder = demo_folder(work_dir, scale)
    with tempfile.TemporaryDirectory(prefix="ingest-", dir=work_dir) as tmp:
        settings = Settings(data_dir=Path(tmp))
        started = time.perf_counter()
        outcome = ingest(settings, IngestParams(years=DEMO_YEARS, source=str(folder)), source=FolderSource(folder))
        seconds = time.perf_counter() - started
    rows = sum(f.rows_read for f in outcome.summary.files)
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "accidents": outcome.summary.accidents,
            "accidents_per_s": outcome.summary.accidents / seconds, "rejected": outcome.summary.rejected}
