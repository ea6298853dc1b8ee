"""The validation rule of every BAAC field, one place for the ingest, the docs and the tests.

Each value is either accepted (parsed), set to NULL when it is one of the "not specified" spellings
the official files themselves use (-1, empty, N/A, (1)), or refused with a `FieldError` whose reason
names the column. docs/DATA_MODEL.md states the same rules in prose.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pipeline.core.departments import DEPARTMENTS

_SPACES = re.compile(r"[\s\u00a0\u202f]+")
NOT_SPECIFIED = frozenset({"", "-1", "n/a", "na", "(1)", "nan", "null"})
# [0-9], not \d: Python's \d also matches other scripts' digits ('１２'), which are not BAAC values.
_INTEGER = re.compile(r"^-?[0-9]{1,6}$")
_DECIMAL = re.compile(r"^-?[0-9]{1,3}(?:[.,][0-9]{1,12})?$")
_ID = re.compile(r"^[0-9]{12}$")
_HRMN = re.compile(r"^([0-9]{1,2}):([0-9]{2})$|^([0-9]{1,4})$")
_NUMBER_FORMATTED = re.compile(r"^-?[0-9]{1,6}\.0+$")  # '988.0', '1.0': a spreadsheet's number format


class FieldError(ValueError):
    """A value outside its official format; the message names the column."""


def compact(value: str) -> str:
    """Without spaces, no-break spaces or thin spaces ('2021 000 56512' -> '202100056512')."""
    return _SPACES.sub("", value)


def _number_hint(text: str) -> str:
    if _NUMBER_FORMATTED.match(text):
        return f" (written as a number by a spreadsheet? expected {text.split('.')[0]}: re-export the column as text)"
    return ""


def _show(value: str) -> str:
    return repr(value if len(value) <= 30 else value[:30] + "...")


@dataclass(frozen=True)
class Code:
    """An integer code from an official list; "not specified" spellings are NULL."""

    codes: frozenset[int]

    def parse(self, column: str, value: str) -> int | None:
        text = compact(value)
        if text.lower() in NOT_SPECIFIED:
            return None
        if not _INTEGER.match(text):
            raise FieldError(f"{column} {_show(value)} is not an integer code{_number_hint(text)}")
        number = int(text)
        if number not in self.codes:
            raise FieldError(f"{column} {number} is not in the official code list")
        return number


@dataclass(frozen=True)
class Range:
    """An integer quantity within [low, high]; "not specified" spellings are NULL."""

    low: int
    high: int
    unit: str = ""

    def parse(self, column: str, value: str) -> int | None:
        text = compact(value)
        if text.lower() in NOT_SPECIFIED:
            return None
        if not _INTEGER.match(text):
            raise FieldError(f"{column} {_show(value)} is not an integer{_number_hint(text)}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise FieldError(f"{column} {number} is outside {self.low}-{self.high}{self.unit}")
        return number


@dataclass(frozen=True)
class Letters:
    """A code made of digits or letters (actp: 0-9, A, B)."""

    codes: frozenset[str]

    def parse(self, column: str, value: str) -> str | None:
        text = compact(value).upper()
        if text.lower() in NOT_SPECIFIED:
            return None
        if text not in self.codes:
            raise FieldError(f"{column} {_show(value)} is not in the official code list")
        return text


@dataclass(frozen=True)
class Text:
    """Free text (addresses, road names, vehicle labels): trimmed, NULL when empty, refused when
    longer than any real value (a sign of a damaged line)."""

    max_length: int

    def parse(self, column: str, value: str) -> str | None:
        text = value.strip()
        if text.lower() in NOT_SPECIFIED:
            return None
        if len(text) > self.max_length:
            raise FieldError(f"{column} is {len(text)} characters long (limit {self.max_length})")
        return text


def _codes(*parts: int | range) -> frozenset[int]:
    out: set[int] = set()
    for part in parts:
        out.update(part if isinstance(part, range) else (part,))
    return frozenset(out)


# The official data dictionary ("Description des bases de données annuelles des accidents corporels").
# Columns absent from a year's header are not checked (older releases lack vma, secu1-3, ...).
RULES: dict[str, dict[str, Code | Range | Letters | Text]] = {
    "caracteristiques": {
        "lum": Code(_codes(range(1, 6))),
        "agg": Code(_codes(1, 2)),
        "int": Code(_codes(range(1, 10))),
        "atm": Code(_codes(range(1, 10))),
        "col": Code(_codes(range(1, 8))),
        "adr": Text(300),
    },
    "lieux": {
        "catr": Code(_codes(range(1, 8), 9)),
        "voie": Text(100),
        "v1": Text(20),
        "v2": Text(20),
        "circ": Code(_codes(range(1, 5))),
        "nbv": Range(0, 20, " lanes"),
        "vosp": Code(_codes(range(0, 4))),
        "prof": Code(_codes(range(1, 5))),
        "pr": Text(20),
        "pr1": Text(20),
        "plan": Code(_codes(range(1, 5))),
        "lartpc": Text(20),
        "larrout": Text(20),
        "surf": Code(_codes(range(1, 10))),
        "infra": Code(_codes(range(0, 10))),
        "situ": Code(_codes(range(0, 9))),
        "vma": Range(5, 130, " km/h"),
    },
    "vehicules": {
        "id_vehicule": Text(30),
        "num_veh": Text(10),
        "senc": Code(_codes(range(0, 4))),
        "catv": Code(_codes(range(0, 22), range(30, 44), 50, 60, 80, 99)),
        "obs": Code(_codes(range(0, 18))),
        "obsm": Code(_codes(range(0, 7), 9)),
        "choc": Code(_codes(range(0, 10))),
        "manv": Code(_codes(range(0, 27))),
        "motor": Code(_codes(range(0, 7))),
        "occutc": Range(0, 999, " occupants"),
    },
    "usagers": {
        "id_usager": Text(30),
        "id_vehicule": Text(30),
        "num_veh": Text(10),
        "place": Code(_codes(range(0, 11))),
        "catu": Code(_codes(range(1, 5))),
        "grav": Code(_codes(range(1, 5))),
        "sexe": Code(_codes(1, 2)),
        "an_nais": Range(1900, 2100),  # and not after the accident's year: see born_by
        "trajet": Code(_codes(range(0, 6), 9)),
        "secu1": Code(_codes(range(0, 10))),
        "secu2": Code(_codes(range(0, 10))),
        "secu3": Code(_codes(range(0, 10))),
        "locp": Code(_codes(range(0, 10))),
        "actp": Letters(frozenset({*(str(i) for i in range(10)), "A", "B"})),
        "etatp": Code(_codes(range(1, 4))),
    },
}
# Columns parsed into bronze.accidents (from caracteristiques, and the accident's first lieux row).
ACCIDENT_CODES = ("atm", "lum", "agg", "int", "col")
LIEUX_CODES = ("catr", "vma", "plan", "prof", "surf")
# Columns a file must have for its rows to be read at all.
REQUIRED = {
    "caracteristiques": ("accident_id", "jour", "mois", "an", "hrmn", "dep", "com", "lat", "long",
                         *ACCIDENT_CODES),
    "lieux": ("accident_id", "catr", "plan", "prof", "surf"),
    "vehicules": ("accident_id",),
    "usagers": ("accident_id",),
}


def born_by(an_nais: int, year: int) -> None:
    """A road user cannot be born after the accident's year."""
    if an_nais > year:
        raise FieldError(f"an_nais {an_nais} is after the accident's year {year}")


def accident_id(value: str, year: int) -> str:
    """12 digits starting with the file's year ('2021 000 56512' -> '202100056512')."""
    text = compact(value)
    if not text:
        raise FieldError("accident_id is missing")
    if not _ID.match(text):
        raise FieldError(f"accident_id {_show(value)} is not 12 digits")
    if text[:4] != str(year):
        raise FieldError(f"accident_id {text} does not start with the file's year {year}")
    return text


def hrmn(value: str) -> tuple[int, int]:
    """'20:55' (current releases) or '2055' / '855' (older ones) -> (20, 55)."""
    match = _HRMN.match(value.strip())
    if not match:
        raise FieldError(f"hrmn {_show(value)} is not a time (HH:MM)")
    if match.group(1) is not None:
        hour, minute = int(match.group(1)), int(match.group(2))
    else:
        digits = match.group(3).zfill(4)
        hour, minute = int(digits[:2]), int(digits[2:])
    if hour > 23 or minute > 59:
        raise FieldError(f"hrmn {_show(value)} is not a time of day (00:00-23:59)")
    return hour, minute


def event_date(an: str, jour: str, mois: str, year: int) -> dt.date:
    """jour / mois / an -> the day; `an` must be the file's year (4 digits, or its last two digits in
    releases before 2019)."""
    an_text = compact(an)
    if not (an_text == str(year) or (len(an_text) == 2 and an_text == str(year)[2:])):
        raise FieldError(f"an {_show(an)} is not the file's year {year}")
    day_month = []
    for column, value, high in (("jour", jour, 31), ("mois", mois, 12)):
        text = compact(value)
        if not re.fullmatch(r"[0-9]{1,2}", text) or not 1 <= int(text) <= high:
            raise FieldError(f"{column} {_show(value)} is outside 1-{high}")
        day_month.append(int(text))
    try:
        return dt.date(year, day_month[1], day_month[0])
    except ValueError:
        raise FieldError(f"date {day_month[0]}/{day_month[1]}/{year} (jour/mois/an) does not exist") from None


def event_time(values: dict[str, str], year: int) -> dt.datetime:
    """jour / mois / an / hrmn -> local time (the date's rule first, then the time's)."""
    day = event_date(values["an"], values["jour"], values["mois"], year)
    return dt.datetime.combine(day, dt.time(*hrmn(values["hrmn"])))


def coordinate(column: str, value: str) -> float:
    """' -22,2239590000' -> -22.223959 (decimal comma, leading space before negatives)."""
    text = compact(value)
    if text.lower() in NOT_SPECIFIED - {"-1"}:
        raise FieldError(f"{column} is missing")
    if not _DECIMAL.match(text):
        raise FieldError(f"{column} {_show(value)} is not a decimal coordinate")
    return float(text.replace(",", "."))


def commune(value: str, dep: str) -> str | None:
    """INSEE code of a commune of `dep` ('98805' for 988, '13055' for 13, '2A004' for 2A), or the
    3-digit number within the département used by releases before 2019; NULL when not specified."""
    text = compact(value).upper()
    if text.lower() in NOT_SPECIFIED:
        return None
    if re.fullmatch(r"[0-9]{3}", text):
        return text
    if len(text) == 5 and text.startswith(dep) and re.fullmatch(r"[0-9]+", text[len(dep):]):
        return text
    raise FieldError(f"com {_show(value)} is not a commune of département {dep}")


def within(lat: float, lon: float, dep: str) -> None:
    """The coordinates lie inside the département's bounds."""
    if not DEPARTMENTS[dep].contains(lat, lon):
        raise FieldError(f"coordinates ({lat}, {lon}) outside the bounds of département {dep}")


def invalid_accident_conditions() -> dict[str, str]:
    """SQL conditions over bronze.accidents (aliased `a`), each true for a row breaking one rule:
    the invariant the fuzz and the checks hold the table to. Bounds come from departments.py."""
    conditions = {
        "accident_id": "NOT regexp_full_match(a.accident_id, '[0-9]{12}') "
                       "OR substr(a.accident_id, 1, 4) <> CAST(a.year AS VARCHAR)",
        "event_time": "a.event_time IS NULL OR year(a.event_time) <> a.year",
        "com": "a.com IS NOT NULL AND NOT (regexp_full_match(a.com, '[0-9]{3}') OR "
               "(length(a.com) = 5 AND starts_with(a.com, a.dep)))",
    }
    bounds = " OR ".join(
        f"(a.dep = '{d.code}' AND a.lat BETWEEN {d.lat_min} AND {d.lat_max} "
        f"AND a.lon BETWEEN {d.lon_min} AND {d.lon_max})" for d in DEPARTMENTS.values())
    conditions["lat/lon"] = f"a.lat IS NULL OR a.lon IS NULL OR NOT ({bounds})"
    for column in ACCIDENT_CODES + LIEUX_CODES:
        kind = "caracteristiques" if column in ACCIDENT_CODES else "lieux"
        rule = RULES[kind][column]
        allowed = (sorted(rule.codes) if isinstance(rule, Code) else range(rule.low, rule.high + 1))
        conditions[column] = f'a."{column}" IS NOT NULL AND a."{column}" NOT IN ({", ".join(map(str, allowed))})'
    return conditions
