"""A small synthetic La Réunion (974) world for tests: BAAC files for 2019-2024 in the official layout
and a street grid around Saint-Denis as an OpenStreetMap file. Accidents sit on the grid's nodes,
more of them in the evening rush and near the centre, so that a model has something to learn."""

from __future__ import annotations

import random
from pathlib import Path

from tests.bronze.baac_files import Accident, write_year

CENTRE = (-20.8823, 55.4504)  # Saint-Denis
STEP = 0.02  # degrees between streets
SIZE = 6  # streets in each direction
YEARS = range(2019, 2025)


def grid_nodes() -> list[tuple[float, float]]:
    lat0, lon0 = CENTRE[0] - STEP * SIZE / 2, CENTRE[1] - STEP * SIZE / 2
    return [(round(lat0 + i * STEP, 5), round(lon0 + j * STEP, 5)) for i in range(SIZE) for j in range(SIZE)]


def write_osm(path: Path) -> Path:
    nodes = grid_nodes()
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="tests">']
    lines += [f'  <node id="{k + 1}" lat="{lat}" lon="{lon}"/>' for k, (lat, lon) in enumerate(nodes)]
    way = 1000
    for i in range(SIZE):  # east-west streets, then north-south ones
        for refs, kind in (([i * SIZE + j + 1 for j in range(SIZE)], "primary" if i == SIZE // 2 else "residential"),
                           ([j * SIZE + i + 1 for j in range(SIZE)], "secondary" if i == SIZE // 2 else "residential")):
            way += 1
            lines.append(f'  <way id="{way}">' + "".join(f'<nd ref="{r}"/>' for r in refs)
                         + f'<tag k="highway" v="{kind}"/></way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_reunion_source(folder: Path, *, per_year: int = 60, seed: int = 974) -> Path:
    """BAAC files of YEARS for département 974 plus roads.osm in `folder`."""
    rng = random.Random(seed)
    # accidents at the central crossings only: the outer streets are the exclusion sampler's negatives
    nodes = [n for k, n in enumerate(grid_nodes()) if abs(k // SIZE - SIZE // 2) <= 1 and abs(k % SIZE - SIZE // 2) <= 1]
    weights = [1.0 / (1.0 + 50 * ((lat - CENTRE[0]) ** 2 + (lon - CENTRE[1]) ** 2) ** 0.5) for lat, lon in nodes]
    for year in YEARS:
        accidents = []
        for k in range(per_year):
            lat, lon = rng.choices(nodes, weights)[0]
            hour = rng.choice([7, 8, 12, 17, 17, 18, 18, 19, 22])
            # BAAC ids are unique nationally: 974's never meet the 988 demo's (year * 10^8 + n)
            accidents.append(Accident(f"{year}{k + 90_000_001:08d}", day=rng.randint(1, 28), month=rng.randint(1, 12),
                                      hrmn=f"{hour:02d}:{rng.randint(0, 59):02d}", dep="974", com="97411",
                                      lat=lat + rng.uniform(-0.0005, 0.0005), lon=lon + rng.uniform(-0.0005, 0.0005),
                                      adr="Rue de Paris"))
        write_year(folder / str(year), year, accidents)
    write_osm(folder / "roads.osm")
    return folder
