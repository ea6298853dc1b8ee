"""One year's four BAAC files read for one département (pipeline.bronze.ingest writes them): each line
parsed and checked, kept as a raw row, counted as another département's, or rejected with its reason;
the year's normalised accidents (caracteristiques joined with the first valid lieux row)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.bronze import fields as baac_fields
from pipeline.bronze.columns import Checked, accident_columns, apply, check_columns
from pipeline.bronze.fields import ACCIDENT_CODES, LIEUX_CODES, REQUIRED
from pipeline.bronze.parse import ParsedFile, parse_file
from pipeline.bronze.tables import KINDS, RAW_COLUMNS
from pipeline.core.errors import AccidentsError


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
class YearBatch:
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

    def close(self, year: int, count: FileCount, batch: YearBatch) -> None:
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


def _ingest_caracteristiques(parsed: ParsedFile, year: int, dep: str, batch: YearBatch, memo: dict):
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
                   batch: YearBatch, memo: dict) -> pa.Table | None:
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


_ACCIDENT_NAMES = ["accident_id", "event_time", "lat", "lon", *ACCIDENT_CODES, "com", "dep", "adr", "year",
                   *LIEUX_CODES, "source_file"]


def read_year(year: int, files: Mapping[str, Path], dep: str, max_file_bytes: int | None = None) -> YearBatch:
    """Parse and validate one year's four files for `dep`; AccidentsError when a file's structure is
    refused."""
    missing = [k for k in KINDS if k not in files]
    if missing:
        raise AccidentsError(f"year {year}: missing file(s) for {', '.join(missing)}")
    parsed = {kind: parse_file(Path(files[kind]), REQUIRED[kind], max_file_bytes)  # structure first
              for kind in KINDS}
    batch = YearBatch()
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
