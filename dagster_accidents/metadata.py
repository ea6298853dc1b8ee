"""Turn a stage's summary dataclass and the lake tables it wrote into Dagster metadata."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    import duckdb

PREVIEW_ROWS = 5


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _jsonable(value.tolist())
    return str(value)


def _value(value: Any) -> Any:
    """Scalars stay scalars (Dagster plots numeric metadata over time); the rest becomes JSON."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
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
    """One row per method, the headline metrics to 3 significant digits ('-' where a method has no
    value, e.g. the oracle's share of itself), as a Dagster table."""
    rows = []
    for method, values in metrics.items():
        record = {"method": method}
        for name in EVALUATION_COLUMNS:
            value = values.get(name)
            record[name] = f"{value:.3g}" if value is not None and math.isfinite(value) else "-"
        rows.append(dg.TableRecord(record))
    schema = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in ("method", *EVALUATION_COLUMNS)])
    return dg.MetadataValue.table(rows, schema=schema)
