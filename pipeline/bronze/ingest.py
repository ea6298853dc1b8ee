"""Bronze ingestion of the BAAC files: raw tables, normalised accidents, rejected rows.

Every data line of every file is accounted for: kept (in a raw table), out of scope (another
département: counted in `bronze.ingest_log`), or rejected with a reason in `bronze.rejected_rows`.
Re-ingesting a year replaces that year in one transaction across all bronze tables.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.bronze import fields as baac_fields
from pipeline.bronze.columns import Checked, accident_columns, apply, check_columns
from pipeline.bronze.fields import ACCIDENT_CODES, LIEUX_CODES, REQUIRED
from pipeline.bronze.parse import ParsedFile, parse_file
from pipeline.core.departments import DEPARTMENTS
from pipeline.core.errors import AccidentsError
from pipeline.core.lake import LAKE_ALIAS, committed, ensure_tables, scanned_once, with_retries

if TYPE_CHECKING:
    import duckdb

KINDS = ("caracteristiques", "lieux", "vehicules", "usagers")
RAW_COLUMNS = {
    "caracteristiques": ["accident_id", "jour", "mois", "an", "hrmn", "lum", "dep", "com", "agg",
                         "int", "atm", "col", "adr", "lat", "long"],
    "lieux": ["accident_id", "catr", "voie", "v1", "v2", "circ", "nbv", "vosp", "prof", "pr", "pr1",
              "plan", "lartpc", "larrout", "surf", "infra", "situ", "vma"],
    "vehicules": ["accident_id", "id_vehicule", "num_veh", "senc", "catv", "obs", "obsm", "choc",
                  "manv", "motor", "occutc"],
    "usagers": ["accident_id", "id_usager", "id_vehicule", "num_veh", "place", "catu", "grav", "sexe",
                "an_nais", "trajet", "secu1", "secu2", "secu3", "locp", "actp", "etatp"],
}
# A re-ingest that would leave a year with less than this share of the accidents it holds is refused
# unless forced: a broken or truncated file must not silently empty a year.
MIN_KEPT_SHARE = 0.5

ACCIDENTS_DDL = """
CREATE TABLE IF NOT EXISTS bronze.accidents (
    accident_id VARCHAR, event_time TIMESTAMP, lat DOUBLE, lon DOUBLE,
    atm INTEGER, lum INTEGER, agg INTEGER, "int" INTEGER, col INTEGER,
    com VARCHAR, dep VARCHAR, adr VARCHAR, year INTEGER,
    catr INTEGER, vma INTEGER, plan INTEGER, prof INTEGER, surf INTEGER, source_file VARCHAR)
"""
REJECTED_DDL = """
CREATE TABLE IF NOT EXISTS bronze.rejected_rows (
    source_file VARCHAR, year INTEGER, line_number INTEGER, raw_text VARCHAR, reason VARCHAR,
    raw_length INTEGER, dep VARCHAR)
"""
# Lakes created before raw_length existed gain the column (NULL for their old rows).
REJECTED_MIGRATION = "ALTER TABLE bronze.rejected_rows ADD COLUMN IF NOT EXISTS raw_length INTEGER"
LOG_DDL = """
CREATE TABLE IF NOT EXISTS bronze.ingest_log (
    source_file VARCHAR, year INTEGER, kind VARCHAR, encoding VARCHAR, source VARCHAR,
    rows_read INTEGER, rows_kept INTEGER, rows_rejected INTEGER, rows_other_department INTEGER,
    ingested_at TIMESTAMP, dep VARCHAR, sha256 VARCHAR, size_bytes BIGINT, notes VARCHAR)
"""
# Lakes from before the source files' checksums and notes gain the columns (NULL for their old rows).
LOG_MIGRATIONS = tuple(f"ALTER TABLE bronze.ingest_log ADD COLUMN IF NOT EXISTS {c}"
                       for c in ("sha256 VARCHAR", "size_bytes BIGINT", "notes VARCHAR"))
# Every bronze table is keyed by (dep, year): an ingest replaces its départements' years only. Rows
# of a département's ingest carry its code (a line whose département cannot be read is recorded under
# each département whose ingest read it). Lakes from before the key gain the column (see _fill_dep).
DEP_KEYED = ("accidents", "rejected_rows", "ingest_log", *(f"raw_{k}" for k in KINDS))


def _raw_ddl(kind: str) -> str:
    columns = ", ".join(f'"{c}" VARCHAR' for c in RAW_COLUMNS[kind])
    return (f"CREATE TABLE IF NOT EXISTS bronze.raw_{kind} ({columns}, extra_json VARCHAR, "
            f"source_file VARCHAR, year INTEGER, line_number INTEGER{_dep_column(kind)})")


def _dep_column(kind: str) -> str:
    """raw_caracteristiques has the file's own dep column; the other raw tables gain one."""
    return "" if "dep" in RAW_COLUMNS[kind] else ", dep VARCHAR"


def _dep_key(table: str) -> str:
    """The département of a row: the raw caracteristiques column holds the text as read."""
    return "upper(trim(dep))" if table == "raw_caracteristiques" else "dep"


def _dep_migrations() -> list[str]:
    return [f"ALTER TABLE bronze.{t} ADD COLUMN IF NOT EXISTS dep VARCHAR" for t in DEP_KEYED
            if t not in ("accidents", "raw_caracteristiques")]


def _fill_dep(con: duckdb.DuckDBPyConnection) -> None:
    """Rows written before the (dep, year) key have no dep: such a lake held one set of départements
    (the old rule), so when that set is one département its rows take its code."""
    held = [r[0] for r in con.execute("SELECT DISTINCT dep FROM bronze.accidents").fetchall()]
    if len(held) != 1:
        return
    for table in DEP_KEYED[1:]:
        if table == "raw_caracteristiques":
            continue
        if con.execute(f"SELECT count(*) FROM bronze.{table} WHERE dep IS NULL").fetchone()[0]:
            con.execute(f"UPDATE bronze.{table} SET dep = ? WHERE dep IS NULL", [held[0]])


@dataclass
class FileCount:
    source_file: str
    year: int
    kind: str
    encoding: str
    rows_read: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    rows_other_department: int = 0
    sha256: str = ""
    size_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_kept + self.rows_rejected + self.rows_other_department


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


@dataclass
class _YearBatch:
    """Everything one (département, year) contributes to the bronze tables."""

    raw: dict[str, pa.Table] = field(default_factory=dict)
    accidents: pa.Table | None = None
    rejected: list[tuple] = field(default_factory=list)
    counts: list[FileCount] = field(default_factory=list)


def _department(text: str) -> str:
    return text.strip().upper()


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


class _Rejected:
    """The rejected lines of one file and their reasons, added column by column, listed in line order."""

    def __init__(self, parsed: ParsedFile):
        self.parsed = parsed
        self.reasons: dict[int, str] = dict(parsed.problems)

    def add(self, line_numbers: pa.Array, reasons: pa.Array) -> None:
        refused = reasons.is_valid()
        self.reasons.update(zip(line_numbers.filter(refused).to_pylist(), reasons.filter(refused).to_pylist(),
                                strict=True))

    def close(self, year: int, count: FileCount, batch: _YearBatch) -> None:
        count.rows_rejected = len(self.reasons)
        name = self.parsed.path.name
        for number in sorted(self.reasons):
            text, length = self.parsed.rejected_text(number)
            batch.rejected.append((name, year, number, text, self.reasons[number], length))


def _file_count(parsed: ParsedFile, year: int, kind: str) -> FileCount:
    return FileCount(parsed.path.name, year, kind, parsed.encoding, rows_read=parsed.line_count, sha256=parsed.sha256,
                     size_bytes=parsed.size, notes=list(parsed.notes))


# A code a spreadsheet stored as a number and wrote back with a decimal part ('988.0').
_NUMBER_FORMATTED = re.compile(r"\s*([0-9]+)\.0+\s*")


def _number_formatted_dep_note(dep_column: pa.Array, dep: str) -> str | None:
    """A note when lines give the département as '988.0': they are counted as another département."""
    hits, example = 0, None
    for item in pc.value_counts(dep_column).to_pylist():
        match = _NUMBER_FORMATTED.fullmatch(item["values"] or "")
        if match and match[1] == dep:
            hits, example = hits + item["counts"], item["values"].strip()
    if not hits:
        return None
    return (f"{hits} line(s) give dep {example!r}, a number formatted by a spreadsheet: they are not counted "
            f"as département {dep}; re-export the column as text")


def _accident_ids(parsed: ParsedFile, year: int, memo: dict) -> Checked:
    """Each usable line's accident id (the memo is shared by the four files of a year)."""
    return apply(partial(baac_fields.accident_id, year=year), parsed.columns["accident_id"], arrow_type=pa.string(),
                 memo=memo)


def _first_of_each(values: pa.Array) -> np.ndarray:
    """For each row, the position of the first row holding the same value."""
    codes = values.dictionary_encode().indices.to_numpy()
    _, first = np.unique(codes, return_index=True)  # codes are 0..k-1, all present
    return first[codes]


def _raw_table(parsed: ParsedFile, kind: str, year: int, rows: pa.Array, acc_ids: pa.Array) -> pa.Table:
    """raw_<kind> rows of the usable lines at `rows`: the text as read (the accident id normalised),
    columns outside RAW_COLUMNS as JSON."""
    known = RAW_COLUMNS[kind]
    n = len(rows)
    data = {c: acc_ids if c == "accident_id" else
            parsed.columns[c].take(rows) if c in parsed.columns else pa.nulls(n, pa.string()) for c in known}
    extra = [name for name in parsed.header if name not in known]
    texts = zip(*(parsed.columns[name].take(rows).to_pylist() for name in extra)) if extra else ()
    data["extra_json"] = pa.array([json.dumps(dict(zip(extra, values)), ensure_ascii=False) for values in texts]
                                  if extra else pa.nulls(n, pa.string()), pa.string())
    data["source_file"] = pa.repeat(pa.scalar(parsed.path.name, pa.string()), n)
    data["year"] = pa.repeat(pa.scalar(year, pa.int64()), n)
    data["line_number"] = parsed.line_numbers.take(rows)
    return pa.table(data)


def _ingest_caracteristiques(parsed: ParsedFile, year: int, dep: str, batch: _YearBatch, memo: dict):
    """Returns (the in-scope accident ids, the year's valid ids of every département, the accidents
    whose fields all passed, without their lieux fields)."""
    count = _file_count(parsed, year, "caracteristiques")
    rejected = _Rejected(parsed)
    numbers, columns = parsed.line_numbers, parsed.columns
    ids = _accident_ids(parsed, year, memo)
    rejected.add(numbers, ids.errors)
    valid = ids.values.is_valid()
    all_ids = pc.unique(ids.values.filter(valid))
    in_dep = pc.and_(valid, pc.equal(apply(_department, columns["dep"], arrow_type=pa.string()).values, dep))
    count.rows_other_department = _count(valid) - _count(in_dep)
    note = _number_formatted_dep_note(columns["dep"].filter(valid), dep)
    if note:
        count.notes.append(note)
    # an in-scope id seen again on a later line: that line is a duplicate
    candidates = pc.indices_nonzero(in_dep)
    first = _first_of_each(ids.values.take(candidates))
    duplicate = pa.array(first != np.arange(len(first)))
    later = candidates.filter(duplicate)
    first_line = numbers.take(candidates.take(pa.array(first)).filter(duplicate))
    rejected.add(numbers.take(later), pc.binary_join_element_wise(
        "duplicate accident id ", ids.values.take(later), " (first at line ", first_line.cast(pa.string()), ")", ""))
    scope = candidates.filter(pc.invert(duplicate))
    acc_ids = ids.values.take(scope)
    values, reasons = accident_columns({c: column.take(scope) for c, column in columns.items()}, year, dep)
    rejected.add(numbers.take(scope), reasons)
    batch.raw["caracteristiques"] = _raw_table(parsed, "caracteristiques", year, scope, acc_ids)
    passed = reasons.is_null()
    count.rows_kept = _count(passed)
    n = count.rows_kept
    accidents = pa.table({"accident_id": acc_ids.filter(passed), **{c: v.filter(passed) for c, v in values.items()},
                          "dep": pa.repeat(pa.scalar(dep, pa.string()), n),
                          "year": pa.repeat(pa.scalar(year, pa.int64()), n)})
    rejected.close(year, count, batch)
    batch.counts.append(count)
    return acc_ids, all_ids, accidents


def _ingest_linked(parsed: ParsedFile, kind: str, year: int, in_scope: pa.Array, all_ids: pa.Array,
                   batch: _YearBatch, memo: dict) -> pa.Table | None:
    """lieux / vehicules / usagers rows follow their accident's département; every ruled field is
    checked. Returns, for lieux, the first valid row's risk fields per accident."""
    count = _file_count(parsed, year, kind)
    rejected = _Rejected(parsed)
    numbers = parsed.line_numbers
    ids = _accident_ids(parsed, year, memo)
    rejected.add(numbers, ids.errors)
    valid = ids.values.is_valid()
    known = pc.is_in(ids.values, value_set=all_ids)
    unknown = pc.and_(valid, pc.invert(known))
    rejected.add(numbers.filter(unknown), pc.binary_join_element_wise(
        "accident id ", ids.values.filter(unknown), " not found in the year's caracteristiques file", ""))
    scoped = pc.and_(known, pc.is_in(ids.values, value_set=in_scope))
    count.rows_other_department = _count(known) - _count(scoped)
    scope = pc.indices_nonzero(scoped)
    codes, reasons = check_columns(kind, {c: column.take(scope) for c, column in parsed.columns.items()}, year)
    rejected.add(numbers.take(scope), reasons)
    passed = reasons.is_null()
    kept = scope.filter(passed)
    count.rows_kept = len(kept)
    acc_ids = ids.values.take(kept)
    batch.raw[kind] = _raw_table(parsed, kind, year, kept, acc_ids)
    rejected.close(year, count, batch)
    batch.counts.append(count)
    if kind != "lieux":
        return None
    firsts = pa.array(np.unique(_first_of_each(acc_ids)))
    return pa.table({"accident_id": acc_ids.take(firsts), **{
        c: codes[c].filter(passed).take(firsts) if c in codes else pa.nulls(len(firsts), pa.int64())
        for c in LIEUX_CODES}})


def _read_year(year: int, files: Mapping[str, Path], dep: str, max_file_bytes: int | None = None) -> _YearBatch:
    """Parse and validate one year's four files for `dep`; AccidentsError when a file's structure is
    refused."""
    missing = [k for k in KINDS if k not in files]
    if missing:
        raise AccidentsError(f"year {year}: missing file(s) for {', '.join(missing)}")
    parsed = {kind: parse_file(Path(files[kind]), REQUIRED[kind], max_file_bytes)  # structure first
              for kind in KINDS}
    batch = _YearBatch()
    memo: dict = {}
    in_scope, all_ids, accidents = _ingest_caracteristiques(parsed["caracteristiques"], year, dep, batch, memo)
    lieux = _ingest_linked(parsed["lieux"], "lieux", year, in_scope, all_ids, batch, memo)
    for kind in ("vehicules", "usagers"):
        _ingest_linked(parsed[kind], kind, year, in_scope, all_ids, batch, memo)
    # each accident takes the fields of its first valid lieux row (NULL without one)
    at = pc.index_in(accidents["accident_id"], value_set=lieux["accident_id"])
    for column in LIEUX_CODES:
        accidents = accidents.append_column(column, lieux[column].take(at))
    source = Path(files["caracteristiques"]).name
    accidents = accidents.append_column("source_file", pa.repeat(pa.scalar(source, pa.string()), accidents.num_rows))
    batch.accidents = accidents.select(_ACCIDENT_NAMES)
    return batch


def _arrow(rows: list, names: list[str]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    return pa.table({n: list(c) for n, c in zip(names, columns, strict=True)})


_ACCIDENT_NAMES = ["accident_id", "event_time", "lat", "lon", *ACCIDENT_CODES, "com", "dep", "adr", "year",
                   *LIEUX_CODES, "source_file"]
_REJECTED_NAMES = ["source_file", "year", "line_number", "raw_text", "reason", "raw_length"]


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, dep: str) -> None:
    if data.num_rows:
        if "dep" not in data.column_names:
            data = data.append_column("dep", [[dep] * data.num_rows])
        with scanned_once(con, "_ingest_batch", data):  # the transaction would otherwise hold every batch
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _ingest_batch")


def _shrinking_years(con: duckdb.DuckDBPyConnection, batches: Mapping[tuple[str, int], _YearBatch]
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


def _write(con: duckdb.DuckDBPyConnection, batches: Mapping[tuple[str, int], _YearBatch], source: str,
           force: bool, rebuild: Sequence[str] = ()) -> dict[tuple[str, int], str]:
    """Replace the (dep, year) slices of `batches` in one transaction; returns the slices refused for
    shrinking (decided inside the transaction, so a concurrent ingest cannot slip between check and
    write). Other départements' rows of the same years are left as they are."""
    ensure_tables(con, ACCIDENTS_DDL, REJECTED_DDL, REJECTED_MIGRATION, LOG_DDL, *LOG_MIGRATIONS,
                  *(_raw_ddl(k) for k in KINDS), *_dep_migrations())
    now = dt.datetime.now().replace(microsecond=0)

    ddl = {"bronze.accidents": ACCIDENTS_DDL, "bronze.rejected_rows": REJECTED_DDL, "bronze.ingest_log": LOG_DDL,
           **{f"bronze.raw_{k}": _raw_ddl(k) for k in KINDS}}

    def write() -> dict[tuple[str, int], str]:
        for table in rebuild:  # damaged tables: dropped unread and created anew, in this transaction
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(ddl[table])
        _fill_dep(con)
        refused = {} if force else _shrinking_years(con, batches)
        kept = {key: b for key, b in batches.items() if key not in refused}
        if not kept:
            return refused
        for (dep, year), batch in kept.items():
            for table in DEP_KEYED:
                con.execute(f"DELETE FROM bronze.{table} WHERE year = ? AND {_dep_key(table)} = ?", [year, dep])
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


def label_tables(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Table comments say where the data comes from; demo data is labelled synthetic. Only changed
    comments are written, so concurrent ingests of one source do not alter the same tables."""
    text = ("SYNTHETIC demo data generated offline (not real accidents)" if source == "demo"
            else f"BAAC road-accident files, source: {source}")
    tables = ("accidents", "rejected_rows", *(f"raw_{k}" for k in KINDS))
    current = dict(con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'bronze'",
        [LAKE_ALIAS]).fetchall())
    for table in tables:
        if current.get(table) != text:
            con.execute(f"COMMENT ON TABLE bronze.{table} IS '{text.replace(chr(39), chr(39) * 2)}'")


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
    batches: dict[tuple[str, int], _YearBatch] = {}
    refused_slices: dict[tuple[str, int], str] = {}
    for year in sorted(files_by_year):
        for dep in sorted(deps):
            try:
                batches[(dep, year)] = _read_year(year, files_by_year[year], dep, max_file_bytes)
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
