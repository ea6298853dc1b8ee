"""A text file's physical lines, read in blocks so that memory follows the lines kept, not the file's
size, and decoded by a rule that never guesses.

Memory: the file is read BLOCK_BYTES at a time. A line longer than `max_line_chars` is damage, not
data: only its first `keep_chars` characters and its length are kept, so padding, binary junk or a
file without line breaks costs one block whatever its size. What stays is the text of the usable
lines (at most `max_line_chars` each), which the ingest needs anyway; a size cap (`--max-file-mb`)
bounds that too.

Decoding: UTF-8 (with or without BOM) and UTF-16 with a BOM are read as such. Lines that are not
valid UTF-8 are decoded by an encoding detected on their bytes, and only when the detection is sure: of the Western
European encodings French files come in (WESTERN), those that decode the bytes into different texts
must leave exactly one whose non-ASCII characters read as French (letters and typography of the
language, in plausible places: `french_share`). Otherwise the file is refused by name. The choice is the file's
`encoding` (bronze.ingest_log), e.g. `utf-8+cp1252` for a UTF-8 file with a few cp1252 lines.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.core.errors import AccidentsError

BLOCK_BYTES = 4 << 20
# Encodings a French spreadsheet or database export may use; latin-1 first: where it and cp1252
# decode the same (no byte 0x80-0x9F), the file is reported as latin-1, as the older releases are.
WESTERN = ("latin_1", "cp1252", "iso8859_15", "mac_roman", "cp850")
_NAMES = {"latin_1": "latin-1", "iso8859_15": "iso-8859-15", "mac_roman": "mac-roman"}
FRENCH = frozenset("àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ’‘“”«»–—…€°\u00a0\u202f")
SURE_SHARE = 0.9  # of a decoding's non-ASCII characters that must be French letters or typography
DETECTION_SAMPLE_BYTES = 1 << 20
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


@dataclass
class TextLines:
    encoding: str
    lines: list[str] = field(default_factory=list)
    cut: dict[int, int] = field(default_factory=dict)  # index of a line kept in part -> its full length
    undecodable: dict[int, str] = field(default_factory=dict)  # index -> why the detected encoding failed


def _refuse(path: Path, message: str) -> AccidentsError:
    return AccidentsError(f"{path}: {message}")


def _length(piece: bytes | str) -> int:
    """Characters of a piece of a line: UTF-8 lead bytes for bytes (an 8-bit file's count is close)."""
    if isinstance(piece, str):
        return len(piece)
    array = np.frombuffer(piece, dtype=np.uint8)
    return int(len(array) - np.count_nonzero((array & 0xC0) == 0x80))


def physical_lines(blocks: Iterator, sep, cap: int) -> Iterator[tuple[list, dict[int, int]]]:
    """The lines of `blocks` (bytes or str), a list per block: each line of at most `cap` characters
    whole, a longer one as its first `cap * 4` units with its full length in the dict (by index in
    the list); such a line is never held whole. Lines end with `sep`; the final unterminated piece is
    a line when it is not empty (a file's final newline opens no line)."""
    carry = None
    prefix, skipped = None, None  # head and length so far of a line being cut
    for block in blocks:
        data = block if carry is None else carry + block
        lines: list = []
        cuts: dict[int, int] = {}
        start = 0
        if skipped is not None:
            end = data.find(sep)
            if end < 0:
                skipped += _length(data)
                carry = None
                continue
            cuts[0] = skipped + _length(data[:end])
            lines.append(prefix)
            prefix, skipped, start = None, None, end + 1
        last = data.rfind(sep)
        if last >= start:
            parts = data[start:last].split(sep)
            for index, part in enumerate(parts):
                if len(part) > cap * 4 and _length(part) > cap:
                    cuts[len(lines) + index] = _length(part)
                    parts[index] = part[:cap * 4]
            lines.extend(parts)
            start = last + 1
        carry = data[start:]
        if len(carry) > cap * 4 and _length(carry) > cap:
            prefix, skipped, carry = carry[:cap * 4], _length(carry), None
        if lines:
            yield lines, cuts
    if skipped is not None:
        yield [prefix], {0: skipped}
    elif carry:
        yield [carry], {}


def _blocks(handle, first: bytes) -> Iterator[bytes]:
    if first:
        yield first
    while block := handle.read(BLOCK_BYTES):
        yield block


def _decoded(blocks: Iterator[bytes], codec: str, path: Path) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(codec)()
    offset = 0
    try:
        for block in blocks:
            yield decoder.decode(block)
            offset += len(block)
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _refuse(path, f"invalid {codec.upper()} text at byte {offset + exc.start + 2}") from None


def read_lines(path: Path, handle, head: bytes, *, max_line_chars: int, keep_chars: int) -> TextLines:
    """Every physical line of the open binary `handle` (positioned after `head`, its first bytes)."""
    first = head + handle.read(max(0, BLOCK_BYTES - len(head)))
    for bom, codec in _UTF16_BOMS.items():
        if first.startswith(bom):
            return _read_utf16(path, _blocks(handle, first[2:]), codec, max_line_chars, keep_chars)
    encoding = "utf-8"
    if first.startswith(_UTF8_BOM):
        first, encoding = first[3:], "utf-8-sig"
    # CR-only line endings when the first block has a CR and no LF
    sep = b"\r" if b"\n" not in first and b"\r" in first else b"\n"
    text = TextLines(encoding)
    pending: dict[int, bytes] = {}  # lines that are not UTF-8, decoded once the encoding is known
    for raws, cuts in physical_lines(_blocks(handle, first), sep, max_line_chars):
        if sep == b"\n":
            raws = [raw[:-1] if raw.endswith(b"\r") else raw for raw in raws]
        try:
            lines = [raw.decode("utf-8") for raw in raws]
        except UnicodeDecodeError:
            lines = []
            for index, raw in enumerate(raws):
                try:
                    lines.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    if index not in cuts:  # a cut line is rejected whole: its head is shown as it can be
                        pending[len(text.lines) + index] = raw
                    lines.append(raw.decode("utf-8", "backslashreplace"))
        _keep(text, lines, cuts, keep_chars)
    if pending:
        _decode_pending(path, text, pending)
    return text


def _read_utf16(path: Path, blocks: Iterator[bytes], codec: str, max_line_chars: int, keep_chars: int) -> TextLines:
    text = TextLines(codec)
    decoded = _decoded(blocks, codec, path)
    first = next(decoded, "")
    sep = "\r" if "\n" not in first and "\r" in first else "\n"
    for lines, cuts in physical_lines(_chain(first, decoded), sep, max_line_chars):
        if sep == "\n":
            lines = [line.removesuffix("\r") for line in lines]
        _keep(text, lines, cuts, keep_chars)
    return text


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


def _keep(text: TextLines, lines: list[str], cuts: dict[int, int], keep_chars: int) -> None:
    for index, full in cuts.items():
        text.cut[len(text.lines) + index] = full
        lines[index] = lines[index][:keep_chars]
    text.lines.extend(lines)


def _decode_pending(path: Path, text: TextLines, pending: dict[int, bytes]) -> None:
    sample = bytearray()
    for raw in pending.values():
        if len(sample) >= DETECTION_SAMPLE_BYTES:
            break
        sample += raw + b"\n"
    codec = detect_western(bytes(sample))
    if codec is None:
        first = min(pending) + 1
        if len(pending) * 2 >= len(text.lines):  # the file itself is in an encoding that cannot be told
            raise _refuse(path, f"line {first}: not UTF-8, and its encoding cannot be told for sure (no single "
                                "Western European encoding reads it as French text); re-export the file as UTF-8")
        for index in pending:  # a few damaged lines: rejected, their bytes shown as \xNN
            text.undecodable[index] = "not UTF-8, and its encoding cannot be told for sure"
        return
    for index, raw in pending.items():
        try:
            text.lines[index] = raw.decode(codec)
        except UnicodeDecodeError as exc:
            text.undecodable[index] = (f"byte 0x{raw[exc.start]:02x} at character {exc.start + 1} is neither "
                                       f"UTF-8 nor {_NAMES.get(codec, codec)} (the file's detected encoding)")
    name = _NAMES.get(codec, codec)
    text.encoding = name if len(pending) * 2 >= len(text.lines) else f"{text.encoding}+{name}"


def detect_western(sample: bytes) -> str | None:
    """The Western European codec the bytes are written in, or None when that is not sure: of the
    codecs that decode them, those giving different text must leave exactly one that reads as French."""
    by_text: dict[str, str] = {}
    for codec in WESTERN:
        try:
            by_text.setdefault(sample.decode(codec), codec)  # the first in WESTERN's order names a text
        except UnicodeDecodeError:
            continue
    plausible = [codec for decoded, codec in by_text.items() if french_share(decoded) >= SURE_SHARE]
    return plausible[0] if len(plausible) == 1 else None


def french_share(text: str) -> float:
    """Share of the non-ASCII characters of `text` that read as French: letters and typography of
    the language, an accented capital only at the start of a word or inside a word in capitals
    ('SÈbastopol' is how mac-roman reads latin-1's 'Sébastopol')."""
    total = plausible = 0
    for i, c in enumerate(text):
        if ord(c) <= 127:
            continue
        total += 1
        if c not in FRENCH:
            continue
        between = 0 < i < len(text) - 1 and text[i - 1].isalpha()
        misplaced = between and ((c.isupper() and text[i + 1].islower())  # 'SÈbastopol'
                                 or (not c.isalpha() and c != "’" and text[i + 1].isalpha()))  # 'S…BASTOPOL'
        plausible += not misplaced
    return plausible / total if total else 0.0
