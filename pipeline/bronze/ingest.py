"""Bronze ingestion of the BAAC files: raw tables, normalised accidents, rejected rows.

Every data line of every file is accounted for: kept (in a raw table), out of scope (another
département: counted in `bronze.ingest_log`), or rejected with a reason in `bronze.rejected_rows`.
Re-ingesting a year replaces that year in one transaction across all bronze tables.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.bronze import fields as baac_fields
from pipeline.bronze.fields import ACCIDENT_CODES, LIEUX_CODES, REQUIRED, FieldError
from pipeline.bronze.parse import ParsedFile, ParsedLine, parse_file, truncate_raw
from pipeline.core.departments import DEPARTMENTS
from pipeline.core.errors import AccidentsError
from pipeline.core.lake import LAKE_ALIAS, ensure_tables, transaction, with_retries

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

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
_TRAILER = ["extra_json", "source_file", "year", "line_number"]
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
    ingested_at TIMESTAMP, dep VARCHAR)
"""
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
    """Everything one year contributes to the bronze tables, as column lists."""

    raw: dict[str, list[list]] = field(default_factory=lambda: {k: [] for k in KINDS})
    accidents: list[tuple] = field(default_factory=list)
    rejected: list[tuple] = field(default_factory=list)
    counts: list[FileCount] = field(default_factory=list)


def _raw_row(parsed: ParsedFile, fields: list[str], kind: str, year: int, line: int, acc_id: str) -> list:
    by_name = dict(zip(parsed.header, fields, strict=True))
    by_name["accident_id"] = acc_id
    known = RAW_COLUMNS[kind]
    extra = {k: v for k, v in by_name.items() if k not in known}
    return [by_name.get(c) for c in known] + [
        json.dumps(extra, ensure_ascii=False) if extra else None, parsed.path.name, year, line]


def _rejecter(parsed: ParsedFile, year: int, count: FileCount, batch: _YearBatch):
    def reject(line: ParsedLine, reason: str) -> None:
        count.rows_rejected += 1
        text, length = truncate_raw(line.raw_text)
        batch.rejected.append((parsed.path.name, year, line.line_number, text, reason, length))
    return reject


def _accident_fields(values: dict[str, str], acc_id: str, year: int, dep: str) -> tuple:
    """The bronze.accidents fields of one in-scope caracteristiques row; FieldError names the column."""
    event_time = baac_fields.event_time(values, year)
    lat, lon = baac_fields.coordinate("lat", values["lat"]), baac_fields.coordinate("long", values["long"])
    if not DEPARTMENTS[dep].contains(lat, lon):
        raise FieldError(f"coordinates ({lat}, {lon}) outside the bounds of département {dep}")
    codes = baac_fields.check_row("caracteristiques", values, year)
    return (acc_id, event_time, lat, lon, *(codes[c] for c in ACCIDENT_CODES),
            baac_fields.commune(values["com"], dep), dep, codes.get("adr"), year)


def _identified_lines(parsed: ParsedFile, year: int, count: FileCount, reject):
    """Every line of the file is counted; those that parsed and carry a valid accident id are yielded
    as (line, values by column, accident id), the others are rejected with their reason."""
    for line in parsed.lines:
        count.rows_read += 1
        if line.fields is None:
            reject(line, line.problem)
            continue
        values = dict(zip(parsed.header, line.fields, strict=True))
        try:
            acc_id = baac_fields.accident_id(values["accident_id"], year)
        except FieldError as exc:
            reject(line, str(exc))
            continue
        yield line, values, acc_id


def _ingest_caracteristiques(parsed: ParsedFile, year: int, deps: set[str], batch: _YearBatch):
    """Returns (in-scope ids -> validated accident fields or None, all valid ids seen in the file)."""
    count = FileCount(parsed.path.name, year, "caracteristiques", parsed.encoding)
    reject = _rejecter(parsed, year, count, batch)
    in_scope: dict[str, tuple | None] = {}
    first_line: dict[str, int] = {}
    all_ids: set[str] = set()
    for line, values, acc_id in _identified_lines(parsed, year, count, reject):
        all_ids.add(acc_id)
        dep = values["dep"].strip().upper()
        if dep not in deps:
            count.rows_other_department += 1
            continue
        if acc_id in first_line:
            reject(line, f"duplicate accident id {acc_id} (first at line {first_line[acc_id]})")
            continue
        first_line[acc_id] = line.line_number
        batch.raw["caracteristiques"].append(_raw_row(parsed, line.fields, "caracteristiques", year,
                                                      line.line_number, acc_id))
        try:
            in_scope[acc_id] = _accident_fields(values, acc_id, year, dep)
        except FieldError as exc:
            in_scope[acc_id] = None
            reject(line, str(exc))
            continue
        count.rows_kept += 1
    batch.counts.append(count)
    return in_scope, all_ids


def _ingest_linked(parsed: ParsedFile, kind: str, year: int, in_scope: Mapping[str, object],
                   all_ids: set[str], batch: _YearBatch) -> dict[str, tuple]:
    """lieux / vehicules / usagers rows follow their accident's département; every ruled field is
    checked. Returns, for lieux, the first valid row's risk fields per accident."""
    count = FileCount(parsed.path.name, year, kind, parsed.encoding)
    reject = _rejecter(parsed, year, count, batch)
    first_lieux: dict[str, tuple] = {}
    for line, values, acc_id in _identified_lines(parsed, year, count, reject):
        try:
            if acc_id not in all_ids:
                raise FieldError(f"accident id {acc_id} not found in the year's caracteristiques file")
            if acc_id not in in_scope:
                count.rows_other_department += 1
                continue
            codes = baac_fields.check_row(kind, values, year)
        except FieldError as exc:
            reject(line, str(exc))
            continue
        count.rows_kept += 1
        batch.raw[kind].append(_raw_row(parsed, line.fields, kind, year, line.line_number, acc_id))
        if kind == "lieux" and acc_id not in first_lieux:
            first_lieux[acc_id] = tuple(codes.get(c) for c in LIEUX_CODES)
    batch.counts.append(count)
    return first_lieux


def _read_year(year: int, files: Mapping[str, Path], deps: set[str]) -> _YearBatch:
    """Parse and validate one year's four files; AccidentsError when a file's structure is refused."""
    missing = [k for k in KINDS if k not in files]
    if missing:
        raise AccidentsError(f"year {year}: missing file(s) for {', '.join(missing)}")
    parsed = {kind: parse_file(Path(files[kind]), REQUIRED[kind]) for kind in KINDS}  # structure first
    batch = _YearBatch()
    in_scope, all_ids = _ingest_caracteristiques(parsed["caracteristiques"], year, deps, batch)
    lieux = {}
    for kind in KINDS[1:]:
        got = _ingest_linked(parsed[kind], kind, year, in_scope, all_ids, batch)
        lieux = got if kind == "lieux" else lieux
    source = Path(files["caracteristiques"]).name
    no_lieux = (None,) * len(LIEUX_CODES)
    batch.accidents = [row + lieux.get(row[0], no_lieux) + (source,) for row in in_scope.values() if row]
    return batch


def _arrow(rows: list, names: list[str]) -> pa.Table:
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    return pa.table({n: list(c) for n, c in zip(names, columns, strict=True)})


_ACCIDENT_NAMES = ["accident_id", "event_time", "lat", "lon", *ACCIDENT_CODES, "com", "dep", "adr", "year",
                   *LIEUX_CODES, "source_file"]
_REJECTED_NAMES = ["source_file", "year", "line_number", "raw_text", "reason", "raw_length"]


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, dep: str) -> None:
    if data.num_rows:
        if "dep" not in data.column_names:
            data = data.append_column("dep", [[dep] * data.num_rows])
        con.register("_ingest_batch", data)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _ingest_batch")
        con.unregister("_ingest_batch")


def _shrinking_years(con: duckdb.DuckDBPyConnection, batches: Mapping[tuple[str, int], _YearBatch]
                     ) -> dict[tuple[str, int], str]:
    """(dep, year) slices whose new accidents would be far fewer than the lake holds now, with a message."""
    held = {(d, y): n for d, y, n in con.execute(
        "SELECT dep, year, count(*) FROM bronze.accidents GROUP BY dep, year").fetchall()}
    refused = {}
    for key, batch in batches.items():
        before, after = held.get(key, 0), len(batch.accidents)
        if before and after < MIN_KEPT_SHARE * before:
            refused[key] = (f"would replace its {before} accidents with {after} (less than "
                            f"{MIN_KEPT_SHARE:.0%}); check the files or pass --force to replace anyway")
    return refused


def _write(con: duckdb.DuckDBPyConnection, batches: Mapping[tuple[str, int], _YearBatch], source: str,
           force: bool) -> dict[tuple[str, int], str]:
    """Replace the (dep, year) slices of `batches` in one transaction; returns the slices refused for
    shrinking (decided inside the transaction, so a concurrent ingest cannot slip between check and
    write). Other départements' rows of the same years are left as they are."""
    ensure_tables(con, ACCIDENTS_DDL, REJECTED_DDL, REJECTED_MIGRATION, LOG_DDL,
                  *(_raw_ddl(k) for k in KINDS), *_dep_migrations())
    now = dt.datetime.now().replace(microsecond=0)
    with transaction(con):
        _fill_dep(con)
        refused = {} if force else _shrinking_years(con, batches)
        kept = {key: b for key, b in batches.items() if key not in refused}
        if not kept:
            return refused
        for (dep, year), batch in kept.items():
            for table in DEP_KEYED:
                con.execute(f"DELETE FROM bronze.{table} WHERE year = ? AND {_dep_key(table)} = ?", [year, dep])
            for kind in KINDS:
                _insert(con, f"bronze.raw_{kind}", _arrow(batch.raw[kind], RAW_COLUMNS[kind] + _TRAILER), dep)
            _insert(con, "bronze.accidents", _arrow(batch.accidents, _ACCIDENT_NAMES), dep)
            _insert(con, "bronze.rejected_rows", _arrow(batch.rejected, _REJECTED_NAMES), dep)
            log_rows = [(c.source_file, c.year, c.kind, c.encoding, source, c.rows_read, c.rows_kept,
                         c.rows_rejected, c.rows_other_department, now) for c in batch.counts]
            _insert(con, "bronze.ingest_log", _arrow(log_rows, [
                "source_file", "year", "kind", "encoding", "source", "rows_read", "rows_kept", "rows_rejected",
                "rows_other_department", "ingested_at"]), dep)
        label_tables(con, source)
    return refused


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
                 force: bool = False) -> IngestSummary:
    """Parse and load the given years' four files; replaces the (département, year) slices atomically.

    A year whose file structure is refused, or whose accidents would shrink below MIN_KEPT_SHARE of
    what the lake holds (unless `force`), keeps its previous snapshot; the other years are written,
    then IngestRefused (an AccidentsError carrying the summary) says which years were refused."""
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
                batches[(dep, year)] = _read_year(year, files_by_year[year], {dep})
            except AccidentsError as exc:
                refused_slices[(dep, year)] = str(exc)
    if batches:
        # a concurrent ingest of other slices may commit first: redo the whole transaction on top of it
        refused_slices |= with_retries(lambda: _write(con, batches, source, force))
    written = [key for key in batches if key not in refused_slices]
    refused: dict[int, str] = {}
    for (dep, year), why in sorted(refused_slices.items()):
        refused.setdefault(year, why if len(deps) == 1 else f"dep {dep}: {why}")
    summary = IngestSummary(sorted({y for _, y in written} - refused.keys()), tuple(sorted(deps)),
                            [c for key in written for c in batches[key].counts])
    summary.accidents = sum(len(batches[key].accidents) for key in written)
    summary.rejected = sum(len(batches[key].rejected) for key in written)
    summary.refused = dict(sorted(refused.items()))
    summary.seconds = time.perf_counter() - started
    if refused:
        raise IngestRefused(summary)
    return summary
