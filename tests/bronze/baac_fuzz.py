"""Mutations of values, headers and whole files of a BAAC year, and the invariants the ingest must
keep whatever they do. Shared by tests/bronze/test_fuzz.py (CI size) and bench/bench_ingest_fuzz.py."""

from __future__ import annotations

import gzip
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.bronze.fields import invalid_accident_conditions
from pipeline.bronze.parse import parse_file
from pipeline.core.errors import AccidentsError
from pipeline.bronze.ingest import KINDS, MIN_KEPT_SHARE, IngestRefused, ingest_years

# Values a damaged export or a hostile user puts in a cell.
HOSTILE = [
    "", " ", " -1", "-1", "N/A", "(1)", "nan", "NaN", "inf", "-inf", "Infinity", "1e10", "1E+11", "2.5",
    "0", "-0", "00", "01", "9", "10", "13", "99", "130", "131", "900", "2147483648", "-99999999999",
    "\uff11\uff12", "١٢", "12abc", "abc", "é", "\u00a0", "\u202f1", "\t", "24:00", "23:59", "7:5", "0:00",
    "31", "32", "2019", "2099", "19", "988", "98805", "13055", "2A004", "98", " -22,2", "166,45", "48,85",
    "-999,5", "1,2,3", '"', '""', ";", "\r", "a\rb", "a\nb", "\x00", "\x01", "\ufeff", "\ud7ff", "💥",
    "2.02400000001E+11", "202300000001", "20240000001", "2024 000 00001",
]
HEADER_OPS = ("drop_column", "rename_column", "duplicate_column", "reorder", "case_space",
              "unbalanced_quote", "extra_column")
FILE_OPS = ("latin1", "utf16", "crlf", "cr_only", "bom", "gzip", "truncate_bytes", "utf16_no_bom")


def _random_value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(HOSTILE)
    if roll < 0.75:
        return str(rng.randint(-5, 2100))
    if roll < 0.85:
        return f"{rng.uniform(-200, 200):.{rng.randint(0, 12)}f}".replace(".", rng.choice([".", ","]))
    if roll < 0.98:
        return "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(160, 0x2FFF)]))
                       for _ in range(rng.randint(1, 40)))
    return "x" * rng.choice([301, 5_000, 20_000])  # free-text limits and the line length limit


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]

    @classmethod
    def read(cls, path: Path) -> Table:
        lines = path.read_text(encoding="utf-8").split("\n")[:-1]
        cells = [[c[1:-1] for c in line.split(";")] for line in lines]  # the writer quotes every field
        return cls(cells[0], cells[1:])

    def to_bytes(self) -> bytes:
        return ("\n".join(";".join(f'"{c}"' for c in row) for row in [self.header, *self.rows]) + "\n").encode()


@dataclass
class Mutations:
    cells: int = 0
    header_ops: Counter = field(default_factory=Counter)
    file_ops: Counter = field(default_factory=Counter)


def mutate_year(files: dict[str, Path], rng: random.Random, n_cells: int, p_header: float, p_file: float,
                tally: Mutations) -> None:
    tables = {kind: Table.read(files[kind]) for kind in KINDS}
    slots = [(k, r) for k in KINDS for r in range(len(tables[k].rows))]
    for _ in range(n_cells if slots else 0):
        kind, r = rng.choice(slots)
        row = tables[kind].rows[r]
        row[rng.randrange(len(row))] = _random_value(rng)
        tally.cells += 1
    for kind, table in tables.items():
        if rng.random() < p_header:
            op = rng.choice(HEADER_OPS)
            _mutate_header(table, op, rng)
            tally.header_ops[op] += 1
        data = table.to_bytes()
        if rng.random() < p_file:
            op = rng.choice(FILE_OPS)
            data = _mutate_bytes(data, op, rng)
            tally.file_ops[op] += 1
        files[kind].write_bytes(data)


def mutate_example(files_by_year: dict[int, dict[str, Path]], rng: random.Random, n_cells: int,
                   tally: Mutations) -> None:
    """One fuzz example: one year damaged, and 30% of the time another year too (less)."""
    years = list(files_by_year)
    rng.shuffle(years)
    mutate_year(files_by_year[years[0]], rng, n_cells, p_header=0.08, p_file=0.05, tally=tally)
    if len(years) > 1 and rng.random() < 0.3:
        mutate_year(files_by_year[years[1]], rng, n_cells // 2, p_header=0.04, p_file=0.03, tally=tally)


def _mutate_header(table: Table, op: str, rng: random.Random) -> None:
    i = rng.randrange(len(table.header))
    if op == "drop_column":
        del table.header[i]
        for row in table.rows:
            del row[i]
    elif op == "rename_column":
        table.header[i] = table.header[i] + "_x"
    elif op == "duplicate_column":
        table.header[i] = table.header[rng.randrange(len(table.header))]
    elif op == "reorder":
        order = list(range(len(table.header)))
        rng.shuffle(order)
        table.header = [table.header[j] for j in order]
        table.rows = [[row[j] for j in order] for row in table.rows]
    elif op == "case_space":
        table.header[i] = f" {table.header[i].upper()} "
    elif op == "unbalanced_quote":
        table.header[i] = table.header[i] + '"'
    elif op == "extra_column":
        table.header.append("extra")
        for row in table.rows:
            row.append(_random_value(rng))


def _mutate_bytes(data: bytes, op: str, rng: random.Random) -> bytes:
    text = data.decode("utf-8", "surrogatepass")
    if op == "latin1":
        return text.encode("latin-1", "replace")
    if op == "utf16":
        return text.encode("utf-16", "surrogatepass")
    if op == "utf16_no_bom":
        return text.encode("utf-16-le", "surrogatepass")
    if op == "crlf":
        return data.replace(b"\n", b"\r\n")
    if op == "cr_only":
        return data.replace(b"\n", b"\r")
    if op == "bom":
        return b"\xef\xbb\xbf" + data
    if op == "gzip":
        return gzip.compress(data)
    return data[: rng.randrange(len(data) + 1)]  # truncate_bytes


@dataclass
class Outcome:
    """What one fuzzed ingest did, and the invariant violations found (must stay empty)."""

    violations: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    lines: int = 0
    kept: int = 0


def _reason_class(reason: str) -> str:
    """'line 1: atm 99 is not in the official code list' -> 'atm <v> is not in the official code list'."""
    reason = re.sub(r"^line \d+: ", "", reason)
    reason = re.sub(r"'[^']*'|\([^)]*\d[^)]*\)", "<v>", reason)
    return re.sub(r"(?<![\w/-])-?\d+(?:[.,]\d+)?(?!\w)", "<v>", reason)


def ingest_and_check(con, files_by_year: dict[int, dict[str, Path]]) -> Outcome:
    """Ingest mutated years and check: no traceback, every line accounted for, no invalid value in
    bronze.accidents, no year emptied (or shrunk below MIN_KEPT_SHARE) by a broken file."""
    out = Outcome()
    before = dict(con.execute("SELECT year, count(*) FROM bronze.accidents GROUP BY 1").fetchall())
    try:
        summary = ingest_years(con, files_by_year)
    except IngestRefused as exc:
        summary = exc.summary
        out.refused = [_reason_class(m.split(": ", 1)[-1]) for m in summary.refused.values()]
    except AccidentsError as exc:  # a user error is fine, but only IngestRefused is expected here
        out.violations.append(f"unexpected AccidentsError: {exc}")
        return out
    except Exception as exc:  # noqa: BLE001 (a traceback is exactly what the fuzz looks for)
        out.violations.append(f"traceback: {type(exc).__name__}: {exc}"[:500])
        return out
    for count in summary.files:
        physical = parse_file(files_by_year[count.year][count.kind]).line_count
        out.lines += count.rows_read
        out.kept += count.rows_kept
        if not count.balanced or count.rows_read != physical:
            out.violations.append(f"unbalanced {count}")
    written = ", ".join(map(str, summary.years)) or "NULL"
    for reason, n in con.execute(f"SELECT reason, count(*) FROM bronze.rejected_rows WHERE year IN ({written}) "
                                 "GROUP BY 1").fetchall():
        out.rejected[_reason_class(reason)] += n
    for rule, condition in invalid_accident_conditions().items():
        bad = con.execute(f"SELECT count(*) FROM bronze.accidents a WHERE {condition}").fetchone()[0]
        if bad:
            out.violations.append(f"{bad} invalid value(s) kept for rule {rule}")
    after = dict(con.execute("SELECT year, count(*) FROM bronze.accidents GROUP BY 1").fetchall())
    for year, n in before.items():
        if year in files_by_year and after.get(year, 0) < MIN_KEPT_SHARE * n:
            out.violations.append(f"year {year} shrank from {n} to {after.get(year, 0)} accidents")
    return out
