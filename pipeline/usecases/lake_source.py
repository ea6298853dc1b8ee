"""The source a lake was ingested from, so that stages run later (features, evaluation) find the same
roads file and truth as a whole-chain run does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.core.lake import DEP, table_exists
from pipeline.core.settings import Settings
from pipeline.sources.select import source_of_lake

if TYPE_CHECKING:
    import duckdb

    from pipeline.sources.select import AccidentSource


def ingested_source(con: duckdb.DuckDBPyConnection, settings: Settings) -> AccidentSource | None:
    """The one source named by bronze.ingest_log, when it can be reopened (see `source_of_lake`)."""
    if not table_exists(con, "bronze.ingest_log"):
        return None
    labels = {r[0] for r in con.execute(f"SELECT DISTINCT source FROM bronze.ingest_log WHERE dep = {DEP}").fetchall()}
    return source_of_lake(labels, settings)
