"""Reading official BAAC CSV files, structure first, tolerant of the format's quirks.

Every physical data line of a file comes out either usable (its fields, in columns) or with a parse
problem, so the ingest can account for every line: kept, out of scope, or rejected with a reason. A
file whose structure is unusable (unknown encoding, compressed bytes, a header that lacks, repeats or
garbles a required column) is refused whole with an `AccidentsError` naming the file and the column.
Quirks handled: UTF-8 with or without BOM, latin-1 releases (and stray latin-1 lines in a UTF-8
file), UTF-16 with a BOM, CRLF, LF or CR-only line endings, stray CRs, `;` (or `,` / tab)
separators, double quotes, `Num_Acc` or `Accident_Id`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.errors import AccidentsError

ID_HEADERS = ("num_acc", "accident_id")
_SEPARATORS = (";", ",", "\t")
MAX_LINE_CHARS = 10_000  # official rows are ~200 characters; longer ones are damage, not data
MAX_HEADER_CHARS = 2_000
MAX_REJECTED_TEXT = 1_000  # characters of a rejected line kept in bronze.rejected_rows
# Magic numbers of formats a user may hand over under a .csv name.
_REFUSED_MAGIC = {
    b"\x1f\x8b": "gzip-compressed data (decompress it first)",
    b"PK\x03\x04": "a ZIP archive or a spreadsheet (.xlsx/.ods); export it as CSV",
    b"\xd0\xcf\x11\xe0": "an old Excel/OLE document (.xls); export it as CSV",
    b"%PDF": "a PDF document",
    b"\x00\x00\xfe\xff": "UTF-32 text; re-export as UTF-8",
    b"\xff\xfe\x00\x00": "UTF-32 text; re-export as UTF-8",
}
_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


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

    @property
    def line_count(self) -> int:
        """Data lines (physical lines after the header)."""
        return len(self.text_lines) - 1

    def raw_text(self, line_number: int) -> str:
        return self.text_lines[line_number - 1]


def _refuse(path: Path, message: str) -> AccidentsError:
    return AccidentsError(f"{path}: {message}")


def _split_physical(text_or_bytes, cr: str | bytes, lf: str | bytes) -> list:
    """Physical lines: LF (or CRLF) endings, or CR alone when the file has no LF at all."""
    if lf not in text_or_bytes and cr in text_or_bytes:
        lines = text_or_bytes.split(cr)
    else:
        lines = text_or_bytes.split(lf)
    if lines and not lines[-1]:
        lines.pop()  # the file's final newline does not open a new line
    return lines


def decode_lines(data: bytes, path: Path = Path("<bytes>")) -> tuple[str, list[str]]:
    """Bytes -> (encoding name, text lines without line endings). UTF-8 (BOM or not) with a latin-1
    fallback per line, UTF-16 with a BOM; compressed, binary and UTF-32 data are refused by name."""
    for magic, what in _REFUSED_MAGIC.items():
        if data.startswith(magic):
            raise _refuse(path, f"line 1: the file holds {what}, not a CSV text")
    for bom, codec in _UTF16_BOMS.items():
        if data.startswith(bom):
            try:
                text = data[2:].decode(codec)
            except UnicodeDecodeError as exc:
                raise _refuse(path, f"invalid {codec.upper()} text at byte {exc.start + 2}") from None
            return codec, [line.rstrip("\r") for line in _split_physical(text, "\r", "\n")]
    head = data[:4096]
    if head and head.count(b"\x00") * 4 > len(head):
        raise _refuse(path, "line 1: binary data or UTF-16/32 text without a byte-order mark; "
                            "re-export the file as UTF-8")
    encoding = "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encoding = "utf-8-sig"
    try:
        # A valid UTF-8 file decodes at once to the same lines as line by line (LF and CR bytes never
        # occur inside a multi-byte character).
        return encoding, _without_final_cr(_split_physical(data.decode("utf-8"), "\r", "\n"))
    except UnicodeDecodeError:
        pass
    raw_lines = _without_final_cr(_split_physical(data, b"\r", b"\n"))
    text_lines = []
    latin1 = 0
    for line in raw_lines:
        try:
            text_lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            # Older releases are latin-1; decoding line by line keeps one stray line from turning a
            # whole UTF-8 file into mojibake.
            text_lines.append(line.decode("latin-1"))
            latin1 += 1
    if latin1:
        encoding = "latin-1" if latin1 * 2 >= len(raw_lines) else f"{encoding}+latin-1"
    return encoding, text_lines


def _without_final_cr(lines: list) -> list:
    """CRLF endings: the CR before each LF goes with the line ending."""
    cr = "\r" if lines and isinstance(lines[0], str) else b"\r"
    return [line[:-1] if line.endswith(cr) else line for line in lines]


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


def normalise_header(names: list[str], path: Path, required: Sequence[str] = ()) -> list[str]:
    """Lower-cased names with the id column renamed `accident_id`; a required column that is
    missing or a column that appears twice refuses the file, naming the column."""
    header = [name.replace("\ufeff", "").strip().lower() for name in names]
    id_positions = [i for i, name in enumerate(header) if name in ID_HEADERS]
    if not id_positions:
        raise _refuse(path, "line 1: no Num_Acc or Accident_Id column in the header")
    for i in id_positions:
        header[i] = "accident_id"
    seen: set[str] = set()
    for name in header:
        if name in seen:
            shown = "Num_Acc/Accident_Id" if name == "accident_id" else name
            raise _refuse(path, f"line 1: column {shown!r} appears more than once in the header")
        seen.add(name)
    bad = [name for name in header if not name or '"' in name or len(name) > 40]
    if bad:
        raise _refuse(path, f"line 1: cannot parse the header (column name {bad[0][:40]!r}; "
                            "unbalanced quote or empty name?)")
    missing = [name for name in required if name not in seen]
    if missing:
        raise _refuse(path, f"line 1: required column {missing[0]!r} is missing from the header")
    return header


def parse_file(path: Path, required: Sequence[str] = ()) -> ParsedFile:
    """Read and split one file; refuses it (AccidentsError naming the file) if its structure is not
    a BAAC table with the `required` columns."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _refuse(path, f"cannot read: {exc.strerror or exc}") from None
    encoding, text_lines = decode_lines(data, path)
    if not text_lines or not text_lines[0].strip():
        raise _refuse(path, "line 1: empty file or missing header")
    if len(text_lines[0]) > MAX_HEADER_CHARS:
        raise _refuse(path, f"line 1: header line is {len(text_lines[0])} characters long "
                            f"(limit {MAX_HEADER_CHARS})")
    separator = _detect_separator(text_lines[0], path)
    try:
        names = _split(text_lines[0], separator)
    except csv.Error as exc:
        raise _refuse(path, f"line 1: cannot parse the header: {exc}") from None
    header = normalise_header(names, path, required)
    problems, positions, columns = _parse_lines(text_lines, separator, len(header))
    return ParsedFile(path, encoding, separator, header, text_lines, problems, pa.array(positions + 2),
                      dict(zip(header, columns, strict=True)))


def _parse_lines(text_lines: list[str], separator: str, width: int
                 ) -> tuple[list[tuple[int, str]], np.ndarray, list[pa.Array]]:
    """(problem lines, positions of the usable lines among the data lines, their fields by column),
    every data line in one or the other. Lines in an official layout are split by Arrow kernels, the
    others one by one by the csv module."""
    lines = pa.array(text_lines[1:], pa.string())
    pieces = _split_plain(lines, separator, width)
    done = np.zeros(len(lines), dtype=bool)
    for positions, _ in pieces:
        done[positions] = True
    problems, positions, rows = _split_one_by_one(text_lines, np.flatnonzero(~done), separator, width)
    pieces.append((positions, [pa.array(column, pa.string()) for column in zip(*rows)] if rows
                   else [pa.array([], pa.string())] * width))
    pieces = [piece for piece in pieces if len(piece[0])] or pieces[-1:]
    if len(pieces) == 1:
        return problems, pieces[0][0], pieces[0][1]
    positions = np.concatenate([p for p, _ in pieces])
    order = pa.array(np.argsort(positions, kind="stable"))
    columns = [pa.concat_arrays([c[j] for _, c in pieces]).take(order) for j in range(width)]
    return problems, positions[order.to_numpy()], columns


def _split_plain(lines: pa.Array, separator: str, width: int) -> list[tuple[np.ndarray, list[pa.Array]]]:
    """(positions, columns) of the lines in one of the two layouts of the official files, split as the
    csv module splits them: every field quoted with no quote inside ("a";"b"), or no quote at all
    (and not blank). Lines with a CR, too long or with another number of fields are left out."""
    quotes = pc.count_substring(lines, '"')
    length = pc.utf8_length(lines)
    usable = pc.and_(pc.invert(pc.match_substring(lines, "\r")), pc.less_equal(length, MAX_LINE_CHARS))
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
