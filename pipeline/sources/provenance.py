"""Where a lake's data came from, as every output built from it must say: `bronze.ingest_log` records
the source label of every ingested file, so a lake holding any file of a synthetic source (the
offline demo) is synthetic, and so is everything built from it (tables, predictions, maps, API
answers, alerts, Dagster metadata)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.core.lake import DEP, table_exists

if TYPE_CHECKING:
    import duckdb

SYNTHETIC_NOTICE = "SYNTHETIC demo data: not real accidents"
DEMO_LABEL = "demo"  # the `bronze.ingest_log.source` label of the offline demo (pipeline.sources.select.DemoSource)


def synthetic_labels() -> frozenset[str]:
    """The `bronze.ingest_log.source` labels of the sources that generate their data."""
    return frozenset({DEMO_LABEL})


def lake_is_synthetic(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the connection's département holds any file ingested from a synthetic source. A lake
    without an ingest log (nothing ingested through `accidents ingest`) is not called synthetic."""
    if not table_exists(con, "bronze.ingest_log"):
        return False
    labels = sorted(synthetic_labels())
    row = con.execute(f"SELECT count(*) FROM bronze.ingest_log WHERE dep = {DEP} AND list_contains(?, source)",
                      [labels]).fetchone()
    return bool(row and row[0])
