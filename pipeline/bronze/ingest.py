"""Bronze ingestion of the BAAC files: raw tables, normalised accidents, rejected rows.

Every data line of every file is accounted for: kept (in a raw table), out of scope (another
département: counted in `bronze.ingest_log`), or rejected with a reason in `bronze.rejected_rows`.
Re-ingesting a year replaces that year in one transaction across all bronze tables. The files of a
(département, year) are read by pipeline.bronze.year_files, the tables described in
pipeline.bronze.tables.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline.bronze.tables import (
    ACCIDENTS_DDL,
    DEP_KEYED,
    KINDS,
    LOG_DDL,
    LOG_MIGRATIONS,
    REJECTED_DDL,
    REJECTED_MIGRATION,
    dep_key,
    dep_migrations,
    fill_dep,
    label_tables,
    raw_ddl,
)
from pipeline.bronze.year_files import FileCount, YearBatch, read_year
from pipeline.core.departments import DEPARTMENTS
from pipeline.core.errors import AccidentsError
from pipeline.core.lake import committed, ensure_tables, scanned_once, with_retries

if TYPE_CHECKING:
    import duckdb

# A re-ingest that would leave a year with less than this share of the accidents it holds is refused
# unless forced: a broken or truncated file must not silently empty a year.
MIN_KEPT_SHARE = 0.5


@dataclass
class IngestSummary:
    years: list[int]
    departments: tuple[str, ...]
    files: list[FileCount] = field(default_factory=list)
    accidents: int = 0
    rejected: int = 0
    seconds: float = 0.0
    refused: dict[int, str] = field(default_factory=dict)  # year -> why it kept its previous snapshot

    def table(self) -> str:
        lines = [f"{'file':<32} {'read':>8} {'kept':>8} {'rejected':>8} {'other dep':>9}"]
        for f in self.files:
            lines.append(f"{f.source_file:<32} {f.rows_read:>8} {f.rows_kept:>8} {f.rows_rejected:>8} "
                         f"{f.rows_other_department:>9}")
        lines += [f"note: {f.source_file}: {note}" for f in self.files for note in f.notes]
        return "\n".join(lines)


class IngestRefused(AccidentsError):
    """Some years were refused (they keep their previous snapshot); the others were ingested."""

    def __init__(self, summary: IngestSummary):
        self.summary = summary
        done = f"; ingested: {', '.join(map(str, summary.years))}" if summary.years else "; nothing ingested"
        first_year = min(summary.refused)
        more = f" (and {len(summary.refused) - 1} other year(s))" if len(summary.refused) > 1 else ""
        super().__init__(f"year {first_year} refused, it keeps its previous data: "
                         f"{summary.refused[first_year]}{more}{done}")


def _arrow(rows: list, names: list[str]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    return pa.table({n: list(c) for n, c in zip(names, columns, strict=True)})
_REJECTED_NAMES = ["source_file", "year", "line_number", "raw_text", "reason", "raw_length"]


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, dep: str) -> None:
    if data.num_rows:
        if "dep" not in data.column_names:
            data = data.append_column("dep", [[dep] * data.num_rows])
        with scanned_once(con, "_ingest_batch", data):  # the transaction would otherwise hold every batch
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _ingest_batch")


def _shrinking_years(con: duckdb.DuckDBPyConnection, batches: Mapping[tuple[str, int], YearBatch]
                     ) -> dict[tuple[str, int], str]:
    """(dep, year) slices whose new accidents would be far fewer than the lake holds now, with a message."""
    held = {(d, y): n for d, y, n in con.execute(
        "SELECT dep, year, count(*) FROM bronze.accidents GROUP BY dep, year").fetchall()}
    refused = {}
    for key, batch in batches.items():
        before, after = held.get(key, 0), batch.accidents.num_rows
        if before and after < MIN_KEPT_SHARE * before:
            refused[key] = (f"would replace its {before} accidents with {after} (less than "
                            f"{MIN_KEPT_SHARE:.0%}); check the files or pass --force to replace anyway")
    return refused


def _write(con: duckdb.DuckDBPyConnection, batches: Mapping[tuple[str, int], YearBatch], source: str,
           force: bool, rebuild: Sequence[str] = ()) -> dict[tuple[str, int], str]:
    """Replace the (dep, year) slices of `batches` in one transaction; returns the slices refused for
    shrinking (decided inside the transaction, so a concurrent ingest cannot slip between check and
    write). Other départements' rows of the same years are left as they are."""
    ensure_tables(con, ACCIDENTS_DDL, REJECTED_DDL, REJECTED_MIGRATION, LOG_DDL, *LOG_MIGRATIONS,
                  *(raw_ddl(k) for k in KINDS), *dep_migrations())
    now = dt.datetime.now().replace(microsecond=0)

    ddl = {"bronze.accidents": ACCIDENTS_DDL, "bronze.rejected_rows": REJECTED_DDL, "bronze.ingest_log": LOG_DDL,
           **{f"bronze.raw_{k}": raw_ddl(k) for k in KINDS}}

    def write() -> dict[tuple[str, int], str]:
        for table in rebuild:  # damaged tables: dropped unread and created anew, in this transaction
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(ddl[table])
        fill_dep(con)
        refused = {} if force else _shrinking_years(con, batches)
        kept = {key: b for key, b in batches.items() if key not in refused}
        if not kept:
            return refused
        for (dep, year), batch in kept.items():
            for table in DEP_KEYED:
                con.execute(f"DELETE FROM bronze.{table} WHERE year = ? AND {dep_key(table)} = ?", [year, dep])
            for kind in KINDS:
                _insert(con, f"bronze.raw_{kind}", batch.raw[kind], dep)
            _insert(con, "bronze.accidents", batch.accidents, dep)
            _insert(con, "bronze.rejected_rows", _arrow(batch.rejected, _REJECTED_NAMES), dep)
            log_rows = [(c.source_file, c.year, c.kind, c.encoding, source, c.rows_read, c.rows_kept,
                         c.rows_rejected, c.rows_other_department, now, c.sha256, c.size_bytes,
                         "; ".join(c.notes) or None) for c in batch.counts]
            _insert(con, "bronze.ingest_log", _arrow(log_rows, [
                "source_file", "year", "kind", "encoding", "source", "rows_read", "rows_kept", "rows_rejected",
                "rows_other_department", "ingested_at", "sha256", "size_bytes", "notes"]), dep)
        label_tables(con, source)
        return refused

    return committed(con, write)


def ingest_years(con: duckdb.DuckDBPyConnection, files_by_year: Mapping[int, Mapping[str, Path]], *,
                 departments: Sequence[str] = ("988",), source: str = "files",
                 force: bool = False, max_file_bytes: int | None = None,
                 rebuild: Sequence[str] = ()) -> IngestSummary:
    """Parse and load the given years' four files; replaces the (département, year) slices atomically.

    A year whose file structure is refused, or whose accidents would shrink below MIN_KEPT_SHARE of
    what the lake holds (unless `force`), keeps its previous snapshot; the other years are written,
    then IngestRefused (an AccidentsError carrying the summary) says which years were refused.
    `rebuild` names bronze tables dropped and created anew in the same transaction (a repair: their
    damaged files are never read; every slice they held must be among `files_by_year`)."""
    started = time.perf_counter()
    deps = {d.upper() for d in departments}
    unknown = sorted(deps - DEPARTMENTS.keys())
    if unknown:
        raise AccidentsError(f"unknown département {unknown[0]!r}")
    # One batch per (département, year), each parsed on its own, so that a département's slice is the
    # same whether it is ingested alone or with others.
    batches: dict[tuple[str, int], YearBatch] = {}
    refused_slices: dict[tuple[str, int], str] = {}
    for year in sorted(files_by_year):
        for dep in sorted(deps):
            try:
                batches[(dep, year)] = read_year(year, files_by_year[year], dep, max_file_bytes)
            except AccidentsError as exc:
                refused_slices[(dep, year)] = str(exc)
    if batches:
        # a concurrent ingest of other slices may commit first: redo the whole transaction on top of it
        refused_slices |= with_retries(lambda: _write(con, batches, source, force, rebuild))
    written = [key for key in batches if key not in refused_slices]
    refused: dict[int, str] = {}
    for (dep, year), why in sorted(refused_slices.items()):
        refused.setdefault(year, why if len(deps) == 1 else f"dep {dep}: {why}")
    summary = IngestSummary(sorted({y for _, y in written} - refused.keys()), tuple(sorted(deps)),
                            [c for key in written for c in batches[key].counts])
    summary.accidents = sum(batches[key].accidents.num_rows for key in written)
    summary.rejected = sum(len(batches[key].rejected) for key in written)
    summary.refused = dict(sorted(refused.items()))
    summary.seconds = time.perf_counter() - started
    if refused:
        raise IngestRefused(summary)
    return summary
