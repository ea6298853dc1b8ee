"""Ingest: the BAAC files of a source into bronze."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.bronze.ingest import ingest_years
from pipeline.bronze.params import IngestParams
from pipeline.core.lake import lake_connection
from pipeline.core.settings import Settings
from pipeline.sources.select import open_source

if TYPE_CHECKING:
    from pipeline.bronze.ingest import IngestSummary
    from pipeline.sources.select import AccidentSource


@dataclass(frozen=True)
class IngestOutcome:
    summary: IngestSummary
    source: AccidentSource
    years: tuple[int, ...]
    departments: tuple[str, ...]


def ingest(settings: Settings, params: IngestParams, *, source: AccidentSource | None = None) -> IngestOutcome:
    """Every département of `settings` for `params.years`, from `source` (default: `params.source`); each
    (département, year) slice is replaced, other départements' rows stay as they are."""
    source = source or open_source(params.source, settings, seed=params.seed, scale=params.scale)
    files = source.files_for_years(list(params.years))
    with lake_connection(settings) as con:
        summary = ingest_years(con, files, departments=settings.departments, source=source.label, force=params.force,
                               max_file_bytes=params.max_file_mb << 20)
    return IngestOutcome(summary, source, params.years, settings.departments)

