"""Communes of a département: the official list of commune seats shipped with the project, and the
commune of any place.

A place belongs to the commune whose seat (chef-lieu) is nearest: the Voronoi cells of the seats stand
in for the administrative boundaries, which no input of the project carries (OpenStreetMap extracts
filtered to the drive network drop them). Near a boundary that runs far from the midline between two
seats the rule can pick the neighbour; a commune's accident share and its centre distance, which is
what the risk model reads, are little affected by such a strip.

Where the project ships no list for a département (`pipeline/core/data/communes_<dep>.csv`, INSEE
code, name, latitude and longitude of the seat), the seats are estimated from the accidents themselves:
each commune code of bronze.accidents at the median position of its accidents. Every place then gets
a commune as soon as one accident of the département carries a commune code.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.core.errors import AccidentsError
from pipeline.core.spatial import haversine_tree, nearest_km

if TYPE_CHECKING:
    import pandas as pd

DATA_DIR = Path(__file__).with_name("data")


@dataclass(frozen=True)
class CommuneSeats:
    """Commune codes, names and seat positions of one département, and where they come from."""

    codes: np.ndarray  # (n,) INSEE codes as text
    names: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    source: str  # "official list" | "accident positions"

    def __len__(self) -> int:
        return len(self.codes)

    def locate(self, lat, lon) -> tuple[np.ndarray, np.ndarray]:
        """(commune code, distance in km to its seat) of each place: the nearest seat."""
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        dist, idx = nearest_km(haversine_tree(self.lat, self.lon), lat, lon, k=1)
        return self.codes[idx[:, 0]], dist[:, 0]


@lru_cache(maxsize=16)
def official_seats(department: str) -> CommuneSeats | None:
    """The shipped list of `department`'s commune seats, or None when the project ships none."""
    path = DATA_DIR / f"communes_{department}.csv"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return CommuneSeats(np.array([r["com"] for r in rows], dtype=object), np.array([r["name"] for r in rows], dtype=object),
                        np.array([float(r["lat"]) for r in rows]), np.array([float(r["lon"]) for r in rows]),
                        "official list")


def seats_from_accidents(accidents: pd.DataFrame) -> CommuneSeats | None:
    """Seats estimated as the median position of each commune code's accidents (columns com, lat,
    lon); None when no located accident has a commune code."""
    located = accidents.dropna(subset=["com", "lat", "lon"])
    located = located[located["com"].astype(str).str.strip() != ""]
    if located.empty:
        return None
    medians = located.groupby(located["com"].astype(str))[["lat", "lon"]].median().sort_index()
    codes = medians.index.to_numpy(dtype=object)
    return CommuneSeats(codes, codes.copy(), medians["lat"].to_numpy(float), medians["lon"].to_numpy(float),
                        "accident positions")


def commune_seats(department: str, accidents: pd.DataFrame | None = None) -> CommuneSeats:
    """The official seats of `department`, else seats estimated from `accidents`; a one-line error
    when neither exists."""
    seats = official_seats(department)
    if seats is None and accidents is not None:
        seats = seats_from_accidents(accidents)
    if seats is None:
        raise AccidentsError(f"département {department}: no commune list is shipped and no accident carries a "
                             "commune code, so road points cannot be given a commune")
    return seats
