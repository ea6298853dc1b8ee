"""Reading official BAAC CSV files line by line, tolerant of the format's quirks.

Every physical line of a file comes out as exactly one `ParsedLine` (fields or a parse problem), so
the ingest can account for every line: kept, out of scope, or rejected with a reason.
Quirks handled: UTF-8 with or without BOM, latin-1 releases (and stray latin-1 lines in a UTF-8
file), CRLF or LF, `;` (or `,` / tab) separators, double quotes, `Num_Acc` or `Accident_Id`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import AccidentsError

ID_HEADERS = ("num_acc", "accident_id")
_SEPARATORS = (";", ",", "\t")


@dataclass(frozen=True)
class ParsedLine:
    line_number: int  # 1-based physical line in the file (1 = header)
    raw_text: str
    fields: list[str] | None  # None when the line cannot be used
    problem: str | None = None


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    encoding: str
    separator: str
    header: list[str]  # lower-cased, the id column renamed to accident_id
    lines: list[ParsedLine]


def decode_lines(data: bytes) -> tuple[str, list[str]]:
    """Split bytes into text lines (CRLF/LF), decoding UTF-8 (BOM or not) or latin-1 per line."""
    encoding = "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encoding = "utf-8-sig"
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the file's final newline does not open a new line
    try:
        text_lines = [line.decode("utf-8") for line in raw_lines]
    except UnicodeDecodeError:
        # Older releases are latin-1; decode line by line so a single stray line does not
        # turn a whole UTF-8 file into mojibake.
        text_lines = []
        latin1 = 0
        for line in raw_lines:
            try:
                text_lines.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                text_lines.append(line.decode("latin-1"))
                latin1 += 1
        encoding = "latin-1" if latin1 * 2 >= len(raw_lines) else f"{encoding}+latin-1"
    return encoding, [line[:-1] if line.endswith("\r") else line for line in text_lines]


def _split(line: str, separator: str) -> list[str]:
    # One reader per line: an unbalanced quote must not swallow the following lines.
    return next(csv.reader((line,), delimiter=separator, quotechar='"'), [])


def _detect_separator(header_line: str, path: Path) -> str:
    counts = {sep: header_line.count(sep) for sep in _SEPARATORS}
    separator = max(counts, key=counts.get)
    if counts[separator] == 0:
        raise AccidentsError(f"{path}: line 1: cannot find a column separator in the header")
    return separator


def normalise_header(names: list[str], path: Path) -> list[str]:
    header = [name.strip().strip("\ufeff").lower() for name in names]
    id_positions = [i for i, name in enumerate(header) if name in ID_HEADERS]
    if not id_positions:
        raise AccidentsError(f"{path}: line 1: no Num_Acc or Accident_Id column in the header")
    header[id_positions[0]] = "accident_id"
    return header


def parse_file(path: Path) -> ParsedFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AccidentsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    encoding, text_lines = decode_lines(data)
    if not text_lines or not text_lines[0].strip():
        raise AccidentsError(f"{path}: line 1: empty file or missing header")
    separator = _detect_separator(text_lines[0], path)
    header = normalise_header(_split(text_lines[0], separator), path)
    return ParsedFile(path, encoding, separator, header, list(_parse_lines(text_lines, separator, len(header))))


def _parse_lines(text_lines: list[str], separator: str, width: int) -> Iterator[ParsedLine]:
    for number, text in enumerate(text_lines[1:], start=2):
        if not text.strip():
            yield ParsedLine(number, text, None, "empty line")
            continue
        try:
            fields = _split(text, separator)
        except csv.Error as exc:
            yield ParsedLine(number, text, None, f"unparseable CSV: {exc}")
            continue
        if len(fields) != width:
            yield ParsedLine(number, text, None, f"wrong column count: {len(fields)} instead of {width}")
            continue
        yield ParsedLine(number, text, fields)


# --- value normalisers -------------------------------------------------------------------------

_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_MISSING = {"", "-1", "n/a", "na", "(1)", "nan", "null"}


def clean_id(value: str) -> str:
    """Accident ids with spaces or no-break spaces ('2021 000 56512') -> '202100056512'."""
    return _SPACES.sub("", value)


def clean_text(value: str) -> str | None:
    value = value.strip()
    return None if value.lower() in _MISSING else value


def parse_code(value: str) -> int | None:
    """Integer codes; -1, N/A, '(1)', '' and non-numbers are missing."""
    value = _SPACES.sub("", value)
    if value.lower() in _MISSING:
        return None
    try:
        number = int(float(value.replace(",", ".")))
    except ValueError:
        return None
    return None if number < 0 else number


def parse_decimal(value: str) -> float | None:
    """' -22,2239590000' -> -22.223959 (decimal comma, leading space before negatives)."""
    value = _SPACES.sub("", value).replace(",", ".")
    if not value or value.lower() in _MISSING - {"-1"}:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


_HRMN = re.compile(r"^(\d{1,2}):(\d{2})$|^(\d{1,4})$")


def parse_hrmn(value: str) -> tuple[int, int] | None:
    """'20:55' (current releases) or '2055' / '855' (older ones) -> (20, 55)."""
    match = _HRMN.match(value.strip())
    if not match:
        return None
    if match.group(1) is not None:
        hour, minute = int(match.group(1)), int(match.group(2))
    else:
        digits = match.group(3).zfill(4)
        hour, minute = int(digits[:2]), int(digits[2:])
    if hour > 23 or minute > 59:
        return None
    return hour, minute
