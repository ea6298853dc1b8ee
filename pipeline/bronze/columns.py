"""The field rules of fields.py applied to whole columns of a file.

A BAAC column repeats few distinct values (about ten per coded column, one id per accident shared by
four files), so each rule runs once per distinct value and Arrow kernels spread its outcome back over
the rows: the same parsed values and the same reasons as row by row, without a Python call per row
and field. A row's reason is that of its first refused field, in the order the row rules check them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.bronze import fields
from pipeline.bronze.fields import ACCIDENT_CODES, RULES, Code, FieldError, Letters, Range, Text

_MICROS_PER_MINUTE = 60_000_000
_TYPES = {Code: pa.int64(), Range: pa.int64(), Letters: pa.string(), Text: pa.string()}


@dataclass(frozen=True)
class Checked:
    values: pa.Array  # the parsed value of each row (null when not specified or refused)
    errors: pa.Array  # string: the reason of each refused row, null for the others


def distinct_keys(*columns: pa.Array) -> tuple[pa.Array, list]:
    """(for each row, the index of its value among the distinct values; those values, as tuples when
    there are several columns). A row with a null in any column gets a null index."""
    if any(column.null_count == len(column) for column in columns):  # no rows, or nulls only
        return pa.nulls(len(columns[0]), pa.int64()), []
    encoded = [column.dictionary_encode() for column in columns]
    if len(encoded) == 1:
        return encoded[0].indices, encoded[0].dictionary.to_pylist()
    nulls = np.zeros(len(columns[0]), dtype=bool)
    row_codes = None  # each row's index among the distinct tuples of the columns combined so far
    members: list[np.ndarray] = []  # per column combined so far: its dictionary code in each tuple
    for enc in encoded:
        nulls |= enc.indices.is_null().to_numpy(zero_copy_only=False)
        codes = enc.indices.fill_null(0).to_numpy().astype(np.int64)
        width = len(enc.dictionary)
        if row_codes is None:
            row_codes, members = codes, [np.arange(width)]
            continue
        # tuple index * width + code stays below rows² (no overflow); re-encoding keeps it dense, and
        # rows with a null are left out of the tuples
        pairs = pa.array(row_codes * width + codes, mask=nulls).dictionary_encode()
        found = pairs.dictionary.to_numpy()
        members = [m[found // width] for m in members] + [found % width]
        indices = pairs.indices
        row_codes = indices.fill_null(0).to_numpy().astype(np.int64)
    values = [enc.dictionary.to_pylist() for enc in encoded]
    keys = list(zip(*([column_values[c] for c in codes] for column_values, codes in zip(values, members))))
    return indices, keys


def apply(rule: Callable[..., object], *columns: pa.Array, arrow_type: pa.DataType | None = None,
          memo: dict | None = None) -> Checked:
    """`rule` (a fields.py function of one value per column, raising FieldError) over whole columns:
    called once per distinct tuple of values (once per `memo`, shared by the files of a year); the
    parsed values as `arrow_type` (inferred when None)."""
    indices, keys = distinct_keys(*columns)
    call = rule if len(columns) == 1 else (lambda key: rule(*key))
    values, errors = [], []
    for key in keys:
        # A memo only for text keys: Python takes -0.0 and 0.0 for one key, Arrow's distinct values do not.
        outcome = memo.get(key) if memo is not None else None
        if outcome is None:
            try:
                outcome = (call(key), None)
            except FieldError as exc:
                outcome = (None, str(exc))
            if memo is not None:
                memo[key] = outcome
        values.append(outcome[0])
        errors.append(outcome[1])
    return Checked(pa.array(values, arrow_type).take(indices), pa.array(errors, pa.string()).take(indices))


def first_error(errors: list[pa.Array], rows: int) -> pa.Array:
    """Each row's first non-null reason, in the order of `errors`."""
    return pc.coalesce(*errors) if errors else pa.nulls(rows, pa.string())


def check_columns(kind: str, columns: Mapping[str, pa.Array], year: int) -> tuple[dict[str, pa.Array], pa.Array]:
    """Every ruled column of `kind` present in `columns`, parsed, and each row's reason (null when the
    row passes): RULES' order, then the birth year against the accident's year."""
    rows = len(next(iter(columns.values()))) if columns else 0
    parsed, errors = {}, []
    for column, rule in RULES[kind].items():
        if column in columns:
            checked = apply(partial(rule.parse, column), columns[column], arrow_type=_TYPES[type(rule)])
            parsed[column] = checked.values
            errors.append(checked.errors)
    if kind == "usagers" and "an_nais" in parsed:
        errors.append(apply(partial(fields.born_by, year=year), parsed["an_nais"]).errors)
    return parsed, first_error(errors, rows)


def check_row(kind: str, values: dict[str, str], year: int) -> dict[str, object]:
    """Parse every ruled column present in `values`; raises FieldError on the first bad one (the
    row rules are the column rules applied to one row: one composition)."""
    parsed, reasons = check_columns(kind, {c: pa.array([v], pa.string()) for c, v in values.items()}, year)
    if reasons[0].is_valid:
        raise FieldError(reasons[0].as_py())
    return {column: array[0].as_py() for column, array in parsed.items()}


def _minute_of_day(text: str) -> int:
    hour, minute = fields.hrmn(text)
    return hour * 60 + minute


def accident_columns(columns: Mapping[str, pa.Array], year: int, dep: str) -> tuple[dict[str, pa.Array], pa.Array]:
    """The bronze.accidents fields of in-scope caracteristiques rows and each row's reason, checked
    in this order: date, time, lat, long, bounds, coded fields and address, commune."""
    day = apply(partial(fields.event_date, year=year), columns["an"], columns["jour"], columns["mois"],
                arrow_type=pa.date32())
    minute = apply(_minute_of_day, columns["hrmn"], arrow_type=pa.int64())
    lat = apply(partial(fields.coordinate, "lat"), columns["lat"], arrow_type=pa.float64())
    lon = apply(partial(fields.coordinate, "long"), columns["long"], arrow_type=pa.float64())
    bounds = apply(partial(fields.within, dep=dep), lat.values, lon.values)
    codes, codes_error = check_columns("caracteristiques", columns, year)
    com = apply(partial(fields.commune, dep=dep), columns["com"], arrow_type=pa.string())
    event_time = pc.add(day.values.cast(pa.timestamp("us")),
                        pc.multiply(minute.values, _MICROS_PER_MINUTE).cast(pa.duration("us")))
    rows = len(columns["an"])
    out = {"event_time": event_time, "lat": lat.values, "lon": lon.values,
           **{c: codes[c] for c in ACCIDENT_CODES}, "com": com.values,
           "adr": codes.get("adr", pa.nulls(rows, pa.string()))}
    reasons = first_error([day.errors, minute.errors, lat.errors, lon.errors, bounds.errors, codes_error,
                           com.errors], rows)
    return out, reasons
