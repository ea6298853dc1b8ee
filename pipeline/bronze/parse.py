"""Reading official BAAC CSV files, structure first, tolerant of the format's quirks.

Every physical data line of a file comes out either usable (its fields, in columns) or with a parse
problem, so the ingest can account for every line: kept, out of scope, or rejected with a reason. A
file whose structure is unusable (unknown encoding, compressed bytes, a header that lacks, repeats or
garbles a required column) is refused whole with an `AccidentsError` naming the file and the column.
Quirks handled: UTF-8 with or without BOM, latin-1 or cp1252 releases (and stray lines of such an
encoding in a UTF-8 file, detected: text_file.py), UTF-16 with a BOM, CRLF, LF or CR-only line
endings, stray CRs, `;` (or `,` / tab) separators, double quotes, `Num_Acc` or `Accident_Id`, the
empty trailing columns a spreadsheet export adds. A line holding a control character (NUL, C0 other
than tab and CR, DEL, C1) is damage: it is rejected with its position, never stored in a table. The
file is read in blocks (text_file.py): memory follows its usable lines, not its size.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.bronze.params import DEFAULT_MAX_FILE_MB
from pipeline.bronze.text_file import read_lines
from pipeline.core.errors import AccidentsError

ID_HEADERS = ("num_acc", "accident_id")
_SEPARATORS = (";", ",", "\t")
MAX_LINE_CHARS = 10_000  # official rows are ~200 characters; longer ones are damage, not data
MAX_HEADER_CHARS = 2_000
MAX_REJECTED_TEXT = 1_000  # characters of a rejected line kept in bronze.rejected_rows
# NUL, C0 controls other than tab and CR (a stray CR is harmless: _split drops it), DEL, C1 controls.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Magic numbers of formats a user may hand over under a .csv name.
_REFUSED_MAGIC = {
    b"\x1f\x8b": "gzip-compressed data (decompress it first)",
    b"PK\x03\x04": "a ZIP archive or a spreadsheet (.xlsx/.ods); export it as CSV",
    b"\xd0\xcf\x11\xe0": "an old Excel/OLE document (.xls); export it as CSV",
    b"%PDF": "a PDF document",
    b"\x00\x00\xfe\xff": "UTF-32 text; re-export as UTF-8",
    b"\xff\xfe\x00\x00": "UTF-32 text; re-export as UTF-8",
}


@dataclass(frozen=True)
class ParsedFile:
    """One file split into columns: the usable lines as text columns (Arrow, for the column-wise field
    rules), the others with the problem that makes them unusable. Every data line is one or the other."""

    path: Path
    encoding: str
    separator: str
    header: list[str]  # lower-cased, the id column renamed to accident_id
    text_lines: list[str]  # every physical line, the header first (line number n is text_lines[n - 1])
    problems: list[tuple[int, str]]  # (line number, why the line cannot be used), in line order
    line_numbers: pa.Array  # int64, the 1-based physical line of each usable line, in line order
    columns: dict[str, pa.Array]  # header name -> the text of that field on each usable line
    cut: dict[int, int] = field(default_factory=dict)  # index in text_lines of a line kept in part -> its length
    notes: list[str] = field(default_factory=list)  # what the ingest report says about the file
    sha256: str = ""
    size: int = 0

    @property
    def line_count(self) -> int:
        """Data lines (physical lines after the header)."""
        return len(self.text_lines) - 1

    def rejected_text(self, line_number: int) -> tuple[str, int]:
        """What bronze.rejected_rows keeps of a line: its first characters, control characters shown
        as \\xNN, and its full length."""
        text = self.text_lines[line_number - 1]
        kept, length = truncate_raw(text)
        return visible(kept), self.cut.get(line_number - 1, length)


def _refuse(path: Path, message: str) -> AccidentsError:
    return AccidentsError(f"{path}: {message}")


def visible(text: str) -> str:
    """`text` with each control character written as \\xNN (how rejected lines are stored)."""
    return CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def read_text(path: Path, max_bytes: int | None = None):
    """(the file's lines as text_file.TextLines, its SHA-256, its size), read in blocks; compressed,
    binary, UTF-32 and over-size files are refused by name."""
    limit = DEFAULT_MAX_FILE_MB << 20 if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise _refuse(path, f"the file is {size / 2**20:,.0f} MB, above the limit of {limit / 2**20:,.0f} MB "
                                "(raise it with --max-file-mb if the file is genuine)")
        with path.open("rb") as raw:
            handle = _Hashing(raw)
            head = handle.read(4096)
            for magic, what in _REFUSED_MAGIC.items():
                if head.startswith(magic):
                    raise _refuse(path, f"line 1: the file holds {what}, not a CSV text")
            if not head.startswith((b"\xff\xfe", b"\xfe\xff")) and head.count(b"\x00") * 4 > len(head):
                raise _refuse(path, "line 1: binary data or UTF-16/32 text without a byte-order mark; "
                                    "re-export the file as UTF-8")
            text = read_lines(path, handle, head, max_line_chars=MAX_LINE_CHARS, keep_chars=MAX_REJECTED_TEXT)
            return text, handle.digest.hexdigest(), handle.size
    except OSError as exc:
        raise _refuse(path, f"cannot read: {exc.strerror or exc}") from None


class _Hashing:
    """A binary file whose reads update a SHA-256 (recorded in bronze.ingest_log, and what a bronze
    repair checks the cached file against)."""

    def __init__(self, handle):
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        block = self.handle.read(size)
        self.digest.update(block)
        self.size += len(block)
        return block


def _split(line: str, separator: str) -> list[str]:
    # One reader per line: an unbalanced quote must not swallow the following lines. A stray CR
    # inside a line means nothing in this format and would stop the csv module.
    return next(csv.reader((line.replace("\r", ""),), delimiter=separator, quotechar='"'), [])


def _detect_separator(header_line: str, path: Path) -> str:
    counts = {sep: header_line.count(sep) for sep in _SEPARATORS}
    separator = max(counts, key=counts.get)
    if counts[separator] == 0:
        raise _refuse(path, "line 1: cannot find a column separator (; , or tab) in the header")
    return separator


def trailing_empty(names: list[str]) -> int:
    """How many names at the end of a header are empty: the columns a spreadsheet export adds."""
    count = 0
    while count < len(names) and not names[len(names) - 1 - count].strip():
        count += 1
    return count


def normalise_header(names: list[str], path: Path, required: Sequence[str] = ()) -> list[str]:
    """Lower-cased names with the id column renamed `accident_id`; a required column that is
    missing, a column that appears twice or has no name refuses the file, naming the column.
    (Empty trailing names are taken off before: see parse_file.)"""
    header = [name.replace("\ufeff", "").strip().lower() for name in names]
    id_positions = [i for i, name in enumerate(header) if name in ID_HEADERS]
    if not id_positions:
        raise _refuse(path, "line 1: no Num_Acc or Accident_Id column in the header")
    for i in id_positions:
        header[i] = "accident_id"
    if "" in header:
        raise _refuse(path, f"line 1: column {header.index('') + 1} has no name (an empty column in the "
                            "middle of the header; remove it or name it)")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            shown = "Num_Acc/Accident_Id" if name == "accident_id" else name
            raise _refuse(path, f"line 1: column {shown!r} appears more than once in the header")
        seen.add(name)
    bad = [name for name in header if '"' in name or len(name) > 40]
    if bad:
        raise _refuse(path, f"line 1: cannot parse the header (column name {bad[0][:40]!r}; "
                            "unbalanced quote?)")
    missing = [name for name in required if name not in seen]
    if missing:
        raise _refuse(path, f"line 1: required column {missing[0]!r} is missing from the header")
    return header


def parse_file(path: Path, required: Sequence[str] = (), max_bytes: int | None = None) -> ParsedFile:
    """Read and split one file; refuses it (AccidentsError naming the file) if its structure is not
    a BAAC table with the `required` columns, or it is larger than `max_bytes`."""
    text, sha256, size = read_text(path, max_bytes)
    text_lines = text.lines
    if not text_lines or not text_lines[0].strip():
        raise _refuse(path, "line 1: empty file or missing header")
    header_length = text.cut.get(0, len(text_lines[0]))
    if header_length > MAX_HEADER_CHARS:
        raise _refuse(path, f"line 1: header line is {header_length} characters long "
                            f"(limit {MAX_HEADER_CHARS})")
    control = CONTROL.search(text_lines[0])
    if control:
        raise _refuse(path, f"line 1: control character \\x{ord(control[0]):02x} at character "
                            f"{control.start() + 1} of the header (a damaged file)")
    separator = _detect_separator(text_lines[0], path)
    try:
        names = _split(text_lines[0], separator)
    except csv.Error as exc:
        raise _refuse(path, f"line 1: cannot parse the header: {exc}") from None
    spare = trailing_empty(names)
    header = normalise_header(names[:len(names) - spare], path, required)
    known = {index + 1: f"line too long: {length} characters (limit {MAX_LINE_CHARS})"
             for index, length in text.cut.items() if index}
    known.update({index + 1: reason for index, reason in text.undecodable.items()})
    problems, positions, columns = _parse_lines(text_lines, separator, len(header) + spare, known)
    notes = []
    if spare:
        columns, positions, problems = _drop_spare(columns, positions, problems, len(header), spare)
        notes.append(f"{spare} empty column(s) at the end of each line ignored (a spreadsheet export)")
    if text.encoding not in ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be"):
        notes.append(f"not UTF-8: decoded as {text.encoding} (detected)")
    return ParsedFile(path, text.encoding, separator, header, text_lines, problems, pa.array(positions + 2),
                      dict(zip(header, columns, strict=True)), text.cut, notes, sha256, size)


def _drop_spare(columns: list[pa.Array], positions: np.ndarray, problems: list[tuple[int, str]], width: int,
                spare: int) -> tuple[list[pa.Array], np.ndarray, list[tuple[int, str]]]:
    """The columns without the `spare` unnamed trailing ones; a line with a value there is a problem."""
    filled = None
    for column in columns[width:]:
        has_value = pc.not_equal(pc.utf8_trim_whitespace(column), "")
        filled = has_value if filled is None else pc.or_(filled, has_value)
    bad = np.flatnonzero(filled.to_numpy(zero_copy_only=False)) if len(positions) else np.array([], np.int64)
    if not len(bad):
        return columns[:width], positions, problems
    problems = sorted(problems + [(int(positions[i]) + 2, "a value under an unnamed column at the end of the "
                                                         "line (the header names fewer columns)") for i in bad])
    keep = pa.array(np.setdiff1d(np.arange(len(positions)), bad))
    return [column.take(keep) for column in columns[:width]], positions[keep.to_numpy()], problems


def _parse_lines(text_lines: list[str], separator: str, width: int, known: dict[int, str] | None = None
                 ) -> tuple[list[tuple[int, str]], np.ndarray, list[pa.Array]]:
    """(problem lines, positions of the usable lines among the data lines, their fields by column),
    every data line in one or the other. `known` problems (line number -> reason) come first, then
    control characters; lines in an official layout are split by Arrow kernels, the others one by
    one by the csv module."""
    lines = pa.array(text_lines[1:], pa.string())
    known = dict(known or {})
    damaged = np.flatnonzero(pc.match_substring_regex(lines, CONTROL.pattern).to_numpy(zero_copy_only=False))
    for position in damaged.tolist():
        found = CONTROL.search(text_lines[position + 1])
        known.setdefault(position + 2, f"control character \\x{ord(found[0]):02x} at character "
                                       f"{found.start() + 1} (a damaged line)")
    excluded = np.array(sorted(known), dtype=np.int64) - 2
    pieces = _split_plain(lines, separator, width, excluded)
    done = np.zeros(len(lines), dtype=bool)
    done[excluded] = True
    for positions, _ in pieces:
        done[positions] = True
    problems, positions, rows = _split_one_by_one(text_lines, np.flatnonzero(~done), separator, width)
    problems = sorted(problems + list(known.items()))
    pieces.append((positions, [pa.array(column, pa.string()) for column in zip(*rows)] if rows
                   else [pa.array([], pa.string())] * width))
    pieces = [piece for piece in pieces if len(piece[0])] or pieces[-1:]
    if len(pieces) == 1:
        return problems, pieces[0][0], pieces[0][1]
    positions = np.concatenate([p for p, _ in pieces])
    order = pa.array(np.argsort(positions, kind="stable"))
    columns = [pa.concat_arrays([c[j] for _, c in pieces]).take(order) for j in range(width)]
    return problems, positions[order.to_numpy()], columns


def _split_plain(lines: pa.Array, separator: str, width: int, excluded: np.ndarray | None = None
                 ) -> list[tuple[np.ndarray, list[pa.Array]]]:
    """(positions, columns) of the lines in one of the two layouts of the official files, split as the
    csv module splits them: every field quoted with no quote inside ("a";"b"), or no quote at all
    (and not blank). Lines with a CR, too long or with another number of fields are left out."""
    quotes = pc.count_substring(lines, '"')
    length = pc.utf8_length(lines)
    usable = pc.and_(pc.invert(pc.match_substring(lines, "\r")), pc.less_equal(length, MAX_LINE_CHARS))
    if excluded is not None and len(excluded):
        mask = np.ones(len(lines), dtype=bool)
        mask[excluded] = False
        usable = pc.and_(usable, pa.array(mask))
    # 2 quotes per field, all of them around the fields: none inside
    quoted = pc.and_(pc.and_(usable, pc.equal(quotes, 2 * width)),
                     pc.and_(pc.starts_with(lines, '"'), pc.ends_with(lines, '"')))
    bare = pc.and_(pc.and_(usable, pc.equal(quotes, 0)), pc.match_substring_regex(lines, "[0-9A-Za-z]"))
    pieces = []
    for layout, pattern in ((quoted, f'"{separator}"'), (bare, separator)):
        positions = np.flatnonzero(layout.to_numpy(zero_copy_only=False))
        if not len(positions):
            continue
        text = lines.take(positions)
        if layout is quoted:
            text = pc.utf8_slice_codeunits(text, 1, -1)
        parts = pc.split_pattern(text, pattern)
        fits = pc.equal(pc.list_value_length(parts), width)
        positions, values = positions[fits.to_numpy(zero_copy_only=False)], parts.filter(fits).flatten()
        pieces.append((positions, [values.take(np.arange(j, len(values), width)) for j in range(width)]))
    return pieces


def _split_one_by_one(text_lines: list[str], positions: np.ndarray, separator: str, width: int
                      ) -> tuple[list[tuple[int, str]], np.ndarray, list[list[str]]]:
    """(problem lines, positions of the usable lines, their fields) of the data lines at `positions`."""
    problems, usable, rows = [], [], []
    for position in positions.tolist():
        number, text = position + 2, text_lines[position + 1]
        if not text.strip():
            problems.append((number, "empty line"))
            continue
        if len(text) > MAX_LINE_CHARS:
            problems.append((number, f"line too long: {len(text)} characters (limit {MAX_LINE_CHARS})"))
            continue
        try:
            fields = _split(text, separator)
        except csv.Error as exc:
            problems.append((number, f"unparseable CSV: {exc}"))
            continue
        if len(fields) != width:
            problems.append((number, f"wrong column count: {len(fields)} instead of {width}"))
            continue
        usable.append(position)
        rows.append(fields)
    return problems, np.array(usable, dtype=np.int64), rows


def truncate_raw(text: str) -> tuple[str, int]:
    """What bronze.rejected_rows keeps of a rejected line: its first characters and its full length."""
    return text[:MAX_REJECTED_TEXT], len(text)
