"""Turn a stage's summary dataclass and the lake tables it wrote into Dagster metadata.

Floats are rounded to SIGNIFICANT digits (never losing integer digits) so that the UI shows figures,
not float noise; tables are typed so the UI sorts numbers as numbers. A lake built from the
synthetic demo says so on every asset that reads it (`synthetic_metadata`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from pipeline.sources.provenance import SYNTHETIC_NOTICE, lake_is_synthetic

if TYPE_CHECKING:
    import duckdb

PREVIEW_ROWS = 5
SIGNIFICANT = 4


def rounded(value: float, significant: int = SIGNIFICANT) -> float | None:
    """`value` to `significant` significant digits, but never fewer than its integer digits
    (12345.678 -> 12346.0, 0.000123456 -> 0.0001235); None for NaN and infinities."""
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    return round(float(value), decimals)


def synthetic_entries(synthetic: bool) -> dict[str, Any]:
    """`synthetic: true` and a notice for demo data, else `synthetic: false`."""
    return {"synthetic": True, "data_notice": SYNTHETIC_NOTICE} if synthetic else {"synthetic": False}


def synthetic_metadata(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """`synthetic_entries` of the connection's département, from what `bronze.ingest_log` records:
    what every asset built from the lake shows (bronze.ingest uses its source's own flag)."""
    return synthetic_entries(lake_is_synthetic(con))


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return rounded(value)
    if isinstance(value, str | int | bool) or value is None:
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _jsonable(value.tolist())
    return str(value)


def _value(value: Any) -> Any:
    """Scalars stay scalars (Dagster plots numeric metadata over time); the rest becomes JSON."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return rounded(value)
    if isinstance(value, Path):
        return dg.MetadataValue.path(str(value))
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return _value(value.item())
    return dg.MetadataValue.json(_jsonable(value))


def summary_metadata(summary: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """One metadata entry per public field of a stage summary (fields with repr=False are skipped,
    e.g. in-memory models)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(summary):
        if not f.repr or f.name in skip:
            continue
        value = _value(getattr(summary, f.name))
        if value is not None:
            out[f.name] = value
    return out


def markdown_table(columns: list[str], rows: list[tuple]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            text = f"{v:.6g}"
        else:
            text = "" if v is None else str(v)
        return text.replace("|", "\\|").replace("\n", " ")[:60]

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_preview(con: duckdb.DuckDBPyConnection, table: str, *, where: str = "", params=None,
                  limit: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first rows of a lake table as a markdown table."""
    cursor = con.execute(f"SELECT * FROM {table} {where} LIMIT {int(limit)}", params or [])
    columns = [d[0] for d in cursor.description]
    return dg.MetadataValue.md(markdown_table(columns, cursor.fetchall()))


def table_metadata(con: duckdb.DuckDBPyConnection, table: str, *, where: str = "", params=None) -> dict[str, Any]:
    """Row count (Dagster's standard key, plotted in the UI) + markdown preview of one table."""
    rows = con.execute(f"SELECT count(*) FROM {table} {where}", params or []).fetchone()[0]
    return {"dagster/row_count": int(rows), "preview": table_preview(con, table, where=where, params=params)}


EVALUATION_COLUMNS = ("roc_auc", "expected_observed_ratio", "cell_hit_rate_5pct", "cell_pai_5pct",
                      "cell_pai_5pct_share_of_oracle")


def evaluation_table(metrics: dict[str, dict[str, float]]) -> dg.MetadataValue:
    """One row per method, the headline metrics as numbers to 3 significant digits (left empty where a
    method has no value, e.g. the oracle's share of itself), as a typed Dagster table."""
    rows = []
    for method, values in metrics.items():
        record: dict[str, Any] = {"method": method}
        for name in EVALUATION_COLUMNS:
            value = values.get(name)
            record[name] = rounded(float(value), 3) if value is not None else None  # None: an empty cell
        rows.append(dg.TableRecord(record))
    schema = dg.TableSchema(columns=[dg.TableColumn("method", "string"),
                                     *(dg.TableColumn(name, "float") for name in EVALUATION_COLUMNS)])
    return dg.MetadataValue.table(rows, schema=schema)
