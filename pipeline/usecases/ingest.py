"""Ingest: the BAAC files of a source into bronze."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.bronze.params import IngestParams
from pipeline.core.settings import Settings

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
    """Every département of `settings` for `params.years`, from `source` (default: `params.source`)."""
    from pipeline.bronze.ingest import ingest_years
    from pipeline.core.lake import lake_connection
    from pipeline.sources.select import open_source

    source = source or open_source(params.source, settings, seed=params.seed, scale=params.scale)
    files = source.files_for_years(list(params.years))
    with lake_connection(settings) as con:
        check_same_departments(con, settings.departments)
        summary = ingest_years(con, files, departments=settings.departments, source=source.label, force=params.force)
    return IngestOutcome(summary, source, params.years, settings.departments)


def check_same_departments(con, departments: tuple[str, ...]) -> None:
    """A lake holds the chain of one set of départements: bronze replaces whole years, and silver and
    gold are built for the first département. Ingesting another set would wipe the years it shares,
    so it is refused (use another ACCIDENTS_DATA_DIR per département)."""
    from pipeline.core.errors import AccidentsError
    from pipeline.core.lake import table_exists

    if not table_exists(con, "bronze.accidents"):
        return
    held = sorted(r[0] for r in con.execute("SELECT DISTINCT dep FROM bronze.accidents").fetchall())
    if held and held != sorted(departments):
        raise AccidentsError(f"dep={','.join(departments)}: this lake holds département(s) {','.join(held)}; a lake "
                             "holds one set of départements (use another ACCIDENTS_DATA_DIR for this one)")
