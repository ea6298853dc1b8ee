"""Names of the BAAC files: which of the four tables and which year a published file name holds.

The publisher has never been consistent: `caracteristiques-2019.csv`, `caracteristiques_2016.csv`,
`carcteristiques-2021.csv` / `carcteristiques-2022.csv` (misspelt at the source), `caract-2023.csv`,
`vehicules_2017.csv`... One tolerant pattern covers them all, anchored at both ends so that other
files of the dataset (`vehicules-immatricules-baac-2009-2022.csv`, PDF guides) never match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

KINDS = ("caracteristiques", "lieux", "vehicules", "usagers")

# Every spelling seen on data.gouv.fr for each kind.
_SPELLINGS = {
    "caracteristiques": ("caracteristiques", "carcteristiques", "caract"),
    "lieux": ("lieux",),
    "vehicules": ("vehicules",),
    "usagers": ("usagers",),
}
_KIND_OF_SPELLING = {spelling: kind for kind, spellings in _SPELLINGS.items() for spelling in spellings}
_PATTERN = re.compile(
    r"^(?P<kind>" + "|".join(sorted(_KIND_OF_SPELLING, key=len, reverse=True)) + r")"
    r"[-_ ](?P<year>(?:19|20)\d\d)\.csv$"
)


def _fold(name: str) -> str:
    """Lower case without accents, so 'Véhicules_2017.CSV' reads like 'vehicules_2017.csv'."""
    decomposed = unicodedata.normalize("NFKD", name.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def classify_filename(name: str) -> tuple[str, int] | None:
    """'carcteristiques-2022.csv' -> ('caracteristiques', 2022); None for any other file name."""
    match = _PATTERN.match(_fold(name))
    if match is None:
        return None
    return _KIND_OF_SPELLING[match["kind"]], int(match["year"])


@dataclass(frozen=True)
class BaacFile:
    kind: str
    year: int
    path: Path


@dataclass(frozen=True)
class BaacFileSet:
    """The four files of one year, keyed by kind (all of KINDS present)."""

    year: int
    files: dict[str, Path]

    def path(self, kind: str) -> Path:
        return self.files[kind]

    def as_files(self) -> list[BaacFile]:
        return [BaacFile(kind, self.year, self.files[kind]) for kind in KINDS]


def format_years(years: list[int] | set[int]) -> str:
    """[2017, 2018, 2021, 2022, 2023] -> '2017-2018, 2021-2023' (for error messages)."""
    ordered = sorted(set(years))
    if not ordered:
        return "none"
    runs: list[list[int]] = [[ordered[0], ordered[0]]]
    for year in ordered[1:]:
        if year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in runs)
