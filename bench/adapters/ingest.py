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


def ingest_padded(work_dir: str, pad_mb: int, year: int = 2024) -> dict:
    """One demo year whose caracteristiques file is followed by `pad_mb` MB of NUL bytes (a damaged
    export or a hostile upload): the worker's peak memory must not follow the file's size."""
    import shutil

    from pipeline.bronze.params import IngestParams
    from pipeline.core.settings import Settings
    from pipeline.sources.select import FolderSource
    from pipeline.usecases.ingest import ingest

    demo = demo_folder(work_dir, 1.0)
    with tempfile.TemporaryDirectory(prefix="padded-", dir=work_dir) as tmp:
        folder = Path(tmp) / "files"
        folder.mkdir()
        for path in demo.glob(f"*{year}*.csv"):
            shutil.copy(path, folder / path.name)
        carac = next(folder.glob(f"caracteristiques*{year}*.csv"))
        block = b"\x00" * (1 << 20)
        with carac.open("ab") as out:
            for _ in range(pad_mb):
                out.write(block)
        size_mb = carac.stat().st_size / 2**20
        settings = Settings(data_dir=Path(tmp) / "data")
        started = time.perf_counter()
        outcome = ingest(settings, IngestParams(years=(year,), source=str(folder), max_file_mb=pad_mb + 64),
                         source=FolderSource(folder))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "file_mb": size_mb, "accidents": outcome.summary.accidents,
            "rejected": outcome.summary.rejected}
