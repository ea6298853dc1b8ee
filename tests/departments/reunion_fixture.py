"""A small synthetic La Réunion (974) world for tests: BAAC files for 2019-2024 in the official layout
and a street grid around Saint-Denis as an OpenStreetMap file. Accidents sit on the grid's nodes,
more of them in the evening rush and near the centre, so that a model has something to learn.
The same world can be placed in another département (`World`), and several worlds can share one
folder's BAAC files, as the national files do (`write_departements_source`)."""

from __future__ import annotations

import random
from pathlib import Path

from tests.bronze.baac_files import Accident, write_year

from dataclasses import dataclass

CENTRE = (-20.8823, 55.4504)  # Saint-Denis
STEP = 0.02  # degrees between streets
SIZE = 6  # streets in each direction
YEARS = range(2019, 2025)


@dataclass(frozen=True)
class World:
    dep: str = "974"
    com: str = "97411"
    centre: tuple[float, float] = CENTRE
    first_id: int = 90_000_001  # BAAC ids are unique nationally: never meet the 988 demo's (year * 10^8 + n)


REUNION = World()
TAHITI = World("987", "98735", (-17.5350, -149.5690), 95_000_001)  # Papeete


def grid_nodes(centre: tuple[float, float] = CENTRE) -> list[tuple[float, float]]:
    lat0, lon0 = centre[0] - STEP * SIZE / 2, centre[1] - STEP * SIZE / 2
    return [(round(lat0 + i * STEP, 5), round(lon0 + j * STEP, 5)) for i in range(SIZE) for j in range(SIZE)]


def write_osm(path: Path, centre: tuple[float, float] = CENTRE) -> Path:
    nodes = grid_nodes(centre)
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


def world_accidents(world: World, year: int, rng: random.Random, per_year: int) -> list[Accident]:
    # accidents at the central crossings only: the outer streets are the exclusion sampler's negatives
    nodes = [n for k, n in enumerate(grid_nodes(world.centre))
             if abs(k // SIZE - SIZE // 2) <= 1 and abs(k % SIZE - SIZE // 2) <= 1]
    centre = world.centre
    weights = [1.0 / (1.0 + 50 * ((lat - centre[0]) ** 2 + (lon - centre[1]) ** 2) ** 0.5) for lat, lon in nodes]
    accidents = []
    for k in range(per_year):
        lat, lon = rng.choices(nodes, weights)[0]
        hour = rng.choice([7, 8, 12, 17, 17, 18, 18, 19, 22])
        accidents.append(Accident(f"{year}{k + world.first_id:08d}", day=rng.randint(1, 28), month=rng.randint(1, 12),
                                  hrmn=f"{hour:02d}:{rng.randint(0, 59):02d}", dep=world.dep, com=world.com,
                                  lat=lat + rng.uniform(-0.0005, 0.0005), lon=lon + rng.uniform(-0.0005, 0.0005),
                                  adr="Rue de Paris"))
    return accidents


def write_reunion_source(folder: Path, *, per_year: int = 60, seed: int = 974) -> Path:
    """BAAC files of YEARS for département 974 plus roads.osm in `folder`."""
    rng = random.Random(seed)
    for year in YEARS:
        write_year(folder / str(year), year, world_accidents(REUNION, year, rng, per_year))
    write_osm(folder / "roads.osm")
    return folder


def write_departements_source(folder: Path, worlds: tuple[World, ...], *, per_year: int = 60, seed: int = 974) -> Path:
    """BAAC files of YEARS holding every world's accidents (one file per kind and year, as published
    nationally) plus roads-<dep>.osm per world. Each world draws from its own generator, so its rows
    are the same whatever the other worlds."""
    rngs = {w.dep: random.Random(f"{seed}-{w.dep}") for w in worlds}
    for year in YEARS:
        write_year(folder / str(year), year, [a for w in worlds for a in world_accidents(w, year, rngs[w.dep], per_year)])
    for world in worlds:
        write_osm(folder / f"roads-{world.dep}.osm", world.centre)
    return folder
