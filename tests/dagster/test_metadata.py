"""Stage summaries and lake tables -> Dagster metadata."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np

from dagster_accidents.metadata import markdown_table, summary_metadata, table_metadata


@dataclasses.dataclass
class Inner:
    rows: int


@dataclasses.dataclass
class Summary:
    rows: int
    seconds: float
    label: str
    by_table: dict
    nested: tuple
    missing: float
    day: dt.date
    figure: Path
    count: np.int64
    model: object = dataclasses.field(default=None, repr=False)  # in-memory objects stay out


def test_summary_fields_become_scalars_or_json():
    summary = Summary(3, 1.5, "demo", {"gold.train": 10, 2024: np.float32(0.5)}, (Inner(4),), float("nan"),
                      dt.date(2025, 3, 11), Path("/tmp/x.png"), np.int64(7), model=object())
    meta = summary_metadata(summary)
    assert meta["rows"] == 3 and meta["seconds"] == 1.5 and meta["label"] == "demo" and meta["count"] == 7
    assert meta["by_table"].value == {"gold.train": 10, "2024": 0.5}
    assert meta["nested"].value == [{"rows": 4}]
    assert meta["day"] == "2025-03-11" and isinstance(meta["figure"], dg.PathMetadataValue)
    assert "missing" not in meta and "model" not in meta
    assert "label" not in summary_metadata(summary, skip=("label",))


def test_markdown_table_escapes_pipes_and_formats_floats():
    text = markdown_table(["a", "b"], [(1.234567891, "x|y"), (None, "z")])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1.23457 | x\\|y |", "|  | z |"]


def test_table_metadata_counts_the_filtered_rows_and_previews_the_head(lake_con):
    lake_con.execute("CREATE TABLE bronze.t AS SELECT range AS year, 'row' || range AS name FROM range(2019, 2030)")
    meta = table_metadata(lake_con, "bronze.t", where="WHERE year >= ?", params=[2024])
    assert meta["dagster/row_count"] == 6
    lines = meta["preview"].value.splitlines()
    assert lines[0] == "| year | name |" and len(lines) == 2 + 5 and "row2024" in lines[2]


def test_evaluation_table_is_typed_as_numbers_rounded_and_complete():
    from dagster_accidents.metadata import EVALUATION_COLUMNS, evaluation_table

    table = evaluation_table({"model": {"roc_auc": 0.91987654321, "cell_pai_5pct": 14.123456789},
                              "oracle": {"roc_auc": float("nan")}})
    records = [r.data for r in table.records]
    assert records[0]["roc_auc"] == 0.92 and records[0]["cell_pai_5pct"] == 14.1  # numbers, not strings
    assert records[1]["roc_auc"] is None and set(records[1]) == {"method", *EVALUATION_COLUMNS}
    assert {c.name: c.type for c in table.schema.columns} == {"method": "string",
                                                             **{name: "float" for name in EVALUATION_COLUMNS}}


def test_floats_are_rounded_without_losing_integer_digits():
    from dagster_accidents.metadata import rounded

    assert rounded(12345.678) == 12346.0 and rounded(0.000123456789) == 0.0001235 and rounded(-3.14159265) == -3.142
    assert rounded(float("nan")) is None and rounded(0.0) == 0.0
    meta = summary_metadata(Summary(3, 1.23456789, "x", {"share": 0.0123456789}, (), 0.5, dt.date(2025, 1, 1),
                                    Path("/tmp/x"), np.int64(1)))
    assert meta["seconds"] == 1.235 and meta["by_table"].value == {"share": 0.01235}


def test_synthetic_metadata_follows_the_ingest_log(lake_con):
    from dagster_accidents.metadata import synthetic_metadata

    assert synthetic_metadata(lake_con) == {"synthetic": False}  # nothing ingested
    lake_con.execute("CREATE TABLE bronze.ingest_log (source VARCHAR, dep VARCHAR)")
    lake_con.execute("INSERT INTO bronze.ingest_log VALUES ('datagouv', '988'), ('demo', '974')")
    assert synthetic_metadata(lake_con) == {"synthetic": False}  # another département's demo rows
    lake_con.execute("INSERT INTO bronze.ingest_log VALUES ('demo', '988')")
    meta = synthetic_metadata(lake_con)
    assert meta["synthetic"] is True and "SYNTHETIC" in meta["data_notice"]
