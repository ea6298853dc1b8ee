"""The synthetic demo's road network, built from its geography; the same for every seed (it stands
for the real world, only accidents are random).

Routes get gentle curvature and a node every ~500 m. Every commune centre gets a village street grid
(streets every ~375 m over ~3 x 3 km), Greater Nouméa a denser and wider one; unclassified roads
climb inland from the coastal roads up the valleys (with side branches) and the islands get a loose
grid of roads, so the 0.02 degree road grid of the silver layer keeps ~1,000-1,600 cells as with the
real OpenStreetMap network. Written as OSM XML; accident sites are sampled along its ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import numpy as np

from pipeline.sources.demo.geography import (
    COMMUNE_BY_NAME,
    COMMUNES,
    ROUTES,
    Commune,
    nearest_commune,
    to_latlon,
    to_xy,
)
from pipeline.sources.demo.land import GRANDE_TERRE, ISLANDS, SPINE, in_polygon, on_land

NODE_SPACING_M = 500.0
MINOR_NODE_SPACING_M = 1_500.0  # inland/island roads: gentle curves need fewer nodes (file < 2 MB)
TOWN_SPEED_RADIUS_M = 1_200.0  # a route slows to 50 km/h this close to a commune centre
GEOGRAPHY_SEED = 988  # the road network never depends on the user's seed

# Street grids: (commune, half-size in grid steps north-south, east-west, step in metres).
# Streets every <= 400 m put every cell centre of the grid area within 200 m of a street.
TOWN_GRIDS = {
    "Nouméa": (11, 8, 300.0),
    "Dumbéa": (8, 8, 320.0),
    "Le Mont-Dore": (7, 11, 320.0),
    "Païta": (8, 8, 340.0),
}
SMALL_TOWN_GRID = (4, 4, 375.0)
# Inland roads: one every INLAND_EVERY_M along the coastal roads of Grande Terre, (min, max) km long,
# each with up to two side branches of (min, max) km.
INLAND_ROUTES = ("RT1", "RT3", "RP3", "RT7", "RT2", "RPN2", "RT4", "RPS5", "RPS4")
INLAND_EVERY_M = 1_200.0
INLAND_KM = (5.0, 20.0)
BRANCH_KM = (2.0, 7.0)
SHORE_KM = (1.0, 3.5)
ISLAND_ROAD_STEP_M = 2_000.0
INLAND_ROAD_NAMES = ("Route de la Vallée", "Route de la tribu", "Chemin du Creek", "Route minière",
                     "Chemin de la Station", "Route du Plateau", "Chemin des Caféiers", "Route de la Mission")
# Tertiary roads from each commune centre to outlying tribes/villages: (count, min km, max km).
TRIBE_ROADS = (2, 6.0, 14.0)
TRIBE_ROAD_NAMES = ("Route de la tribu", "Chemin de la Chefferie", "Route du Col", "Piste de la Vallée",
                    "Route de l'Écomusée", "Chemin des Caféiers")
GRID_STREET_NAMES = (
    "Rue de Sébastopol", "Avenue du Maréchal Foch", "Rue Jean Jaurès", "Rue de l'Alma",
    "Boulevard Vauban", "Rue Général Gallieni", "Promenade Roger Laroque", "Rue de la République",
    "Avenue James Cook", "Rue Frédéric Surleau", "Rue Anatole France", "Rue Georges Clémenceau",
    "Rue Édouard Unger", "Avenue Bonaparte", "Rue du Père Guéneau", "Rue Jules Garnier",
    "Rue de Verdun", "Rue Émile Zola", "Rue des Frères Carcopino", "Avenue de la Victoire",
)


@dataclass(frozen=True)
class Way:
    way_id: int
    node_ids: tuple[int, ...]
    highway: str
    speed: int  # true speed limit (km/h)
    name: str
    ref: str | None
    tag_maxspeed: bool  # whether OSM carries the maxspeed tag (not all ways do)
    lanes: int | None
    oneway: bool


@dataclass(frozen=True)
class RoadNetwork:
    node_lat: np.ndarray
    node_lon: np.ndarray  # node id = index + 1
    ways: tuple[Way, ...]


def _curve(a: tuple[float, float], b: tuple[float, float], rng: np.random.Generator,
           spacing: float = NODE_SPACING_M) -> np.ndarray:
    """Points (lat, lon) from a to b, every ~spacing metres, bent by a smooth random offset."""
    lat0 = (a[0] + b[0]) / 2
    ax, ay = to_xy(a[0], a[1], lat0)
    bx, by = to_xy(b[0], b[1], lat0)
    length = float(np.hypot(bx - ax, by - ay))
    n = max(2, int(np.ceil(length / spacing)) + 1)
    t = np.linspace(0.0, 1.0, n)
    # Offset vanishes at both ends so consecutive legs meet exactly at the shared node.
    amp1, amp2 = rng.uniform(-0.06, 0.06), rng.uniform(-0.02, 0.02)
    offset = length * (amp1 * np.sin(np.pi * t) + amp2 * np.sin(3 * np.pi * t))
    nx_, ny_ = -(by - ay) / max(length, 1.0), (bx - ax) / max(length, 1.0)
    x = ax + t * (bx - ax) + offset * nx_
    y = ay + t * (by - ay) + offset * ny_
    lat, lon = to_latlon(x, y, lat0)
    return np.column_stack([lat, lon])


class _Builder:
    def __init__(self) -> None:
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.index: dict[tuple[float, float], int] = {}
        self.ways: list[Way] = []
        self.rng = np.random.default_rng(GEOGRAPHY_SEED)

    def node(self, lat: float, lon: float) -> int:
        key = (round(lat, 7), round(lon, 7))
        if key not in self.index:
            self.lat.append(key[0])
            self.lon.append(key[1])
            self.index[key] = len(self.lat)
        return self.index[key]

    def way(self, points: np.ndarray, highway: str, speed: int, name: str, ref: str | None,
            lanes: int | None = None, oneway: bool = False, tag_maxspeed: bool | None = None) -> None:
        ids = tuple(dict.fromkeys(self.node(float(p[0]), float(p[1])) for p in points))
        if len(ids) < 2:
            return
        if tag_maxspeed is None:  # main roads are well tagged in OSM, minor ones about half the time
            tag_maxspeed = highway in ("trunk", "primary") or bool(self.rng.random() < 0.45)
        self.ways.append(Way(len(self.ways) + 1, ids, highway, speed, name, ref, tag_maxspeed, lanes, oneway))


def _place(stop) -> tuple[float, float]:
    if isinstance(stop, str):
        c = COMMUNE_BY_NAME[stop]
        return (c.lat, c.lon)
    return (float(stop[0]), float(stop[1]))


def _split_by_town(points: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """Cut a polyline into runs inside / outside the 50 km/h radius of any commune centre."""
    centres = np.array([(c.lat, c.lon) for c in COMMUNES])
    lat0 = float(points[:, 0].mean())
    px, py = to_xy(points[:, 0], points[:, 1], lat0)
    cx, cy = to_xy(centres[:, 0], centres[:, 1], lat0)
    d = np.hypot(px[:, None] - cx[None, :], py[:, None] - cy[None, :]).min(axis=1)
    inside = d < TOWN_SPEED_RADIUS_M
    runs, start = [], 0
    for i in range(1, len(points) + 1):
        if i == len(points) or inside[i] != inside[start]:
            # Runs share their boundary node so the road stays connected.
            runs.append((points[max(start - 1, 0):i], bool(inside[start])))
            start = i
    return runs


def _add_grid(b: _Builder, commune: Commune, half_ns: int, half_ew: int, step: float) -> None:
    lat0 = commune.lat
    cx, cy = to_xy(commune.lat, commune.lon, lat0)
    rows = np.arange(-half_ns, half_ns + 1)
    cols = np.arange(-half_ew, half_ew + 1)
    names = GRID_STREET_NAMES
    big = commune.greater_noumea
    for k, r in enumerate(rows):  # east-west streets
        xs = cx + cols * step
        ys = np.full(len(cols), cy + r * step)
        lat, lon = to_latlon(xs, ys, lat0)
        arterial = big and r % 3 == 0
        b.way(np.column_stack([lat, lon]), "tertiary" if arterial else "residential",
              50 if arterial else (30 if k % 4 == 1 else 50),
              names[(k + int(commune.insee)) % len(names)], None,
              oneway=bool(big and not arterial and k % 2 == 1))
    for k, c in enumerate(cols):  # north-south streets
        xs = np.full(len(rows), cx + c * step)
        ys = cy + rows * step
        lat, lon = to_latlon(xs, ys, lat0)
        arterial = big and c % 3 == 0
        b.way(np.column_stack([lat, lon]), "secondary" if arterial and c == 0 else
              ("tertiary" if arterial else "residential"), 50,
              names[(k + 7 + int(commune.insee)) % len(names)], None,
              lanes=2 if arterial else None)


def _land_prefix(points: np.ndarray) -> np.ndarray:
    """The points of a polyline up to where it first leaves land (roads stop at the shore)."""
    off = np.flatnonzero(~on_land(points[:, 0], points[:, 1]))
    return points if len(off) == 0 else points[: off[0]]


def _toward_spine(lat: float, lon: float) -> float:
    """Bearing angle (radians, local x=east/y=north) from a point to the nearest point of the spine."""
    spine = np.asarray(SPINE)
    dense = np.vstack([np.linspace(spine[i], spine[i + 1], 50) for i in range(len(spine) - 1)])
    x, y = to_xy(dense[:, 0], dense[:, 1], lat)
    px, py = to_xy(lat, lon, lat)
    k = int(np.argmin(np.hypot(x - px, y - py)))
    return float(np.arctan2(y[k] - py, x[k] - px))


def _offset(lat: float, lon: float, angle: float, length_m: float) -> tuple[float, float]:
    x, y = to_xy(lat, lon, lat)
    end = to_latlon(x + length_m * np.cos(angle), y + length_m * np.sin(angle), lat)
    return float(end[0]), float(end[1])


def _add_inland_roads(b: _Builder, lines: dict[str, np.ndarray]) -> None:
    """Valley roads from the coastal/main roads of Grande Terre towards the chain, with side branches."""
    names = INLAND_ROAD_NAMES
    count = 0
    for ref in INLAND_ROUTES:
        line = lines[ref]
        lat0 = float(line[:, 0].mean())
        x, y = to_xy(line[:, 0], line[:, 1], lat0)
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
        for s in np.arange(INLAND_EVERY_M / 2, cum[-1], INLAND_EVERY_M):
            k = int(np.searchsorted(cum, s))
            start = (float(line[k, 0]), float(line[k, 1]))
            if not in_polygon(*start, GRANDE_TERRE)[0]:
                continue
            angle = _toward_spine(*start) + b.rng.uniform(-0.5, 0.5)
            end = _offset(*start, angle, b.rng.uniform(*INLAND_KM) * 1000)
            spur = _land_prefix(_curve(start, end, b.rng, MINOR_NODE_SPACING_M))
            if len(spur) < 2:
                continue
            centre = COMMUNES[int(nearest_commune(spur[:1, 0], spur[:1, 1])[0])].name
            name = f"{names[count % len(names)]} ({centre})"
            b.way(spur, "unclassified", 70, name, None)
            count += 1
            if count % 2 == 0:  # lanes down to the shore/properties on the other side of the main road
                shore_end = _offset(*start, angle + np.pi + b.rng.uniform(-0.4, 0.4), b.rng.uniform(*SHORE_KM) * 1000)
                b.way(_land_prefix(_curve(start, shore_end, b.rng, MINOR_NODE_SPACING_M)), "unclassified", 50,
                      f"Chemin de la Plage ({centre})", None)
            for side in (-1, 1):
                if len(spur) < 4 or b.rng.random() < 0.3:
                    continue
                fork = spur[int(b.rng.integers(1, len(spur) - 1))]
                turn = angle + side * b.rng.uniform(0.8, 1.4)
                branch_end = _offset(float(fork[0]), float(fork[1]), turn, b.rng.uniform(*BRANCH_KM) * 1000)
                branch = _land_prefix(_curve((float(fork[0]), float(fork[1])), branch_end, b.rng,
                                             MINOR_NODE_SPACING_M))
                b.way(branch, "unclassified", 70, f"Chemin de {names[(count + 3) % len(names)].split()[-1]}"
                      f" ({centre})", None)


def _add_island_roads(b: _Builder) -> None:
    """A loose, slightly rotated grid of roads across each island, cut at the shore."""
    for island, outline in ISLANDS.items():
        poly = np.asarray(outline)
        lat0, lon0 = poly.mean(axis=0)
        px, py = to_xy(poly[:, 0], poly[:, 1], lat0)
        cx, cy = to_xy(lat0, lon0, lat0)
        half = float(np.hypot(px - cx, py - cy).max())
        theta = b.rng.uniform(-0.4, 0.4)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        offsets = np.arange(-half, half + 1, ISLAND_ROAD_STEP_M)
        along = np.arange(-half, half + 1, MINOR_NODE_SPACING_M)
        for k, (o, vertical) in enumerate([(o, v) for v in (False, True) for o in offsets]):
            u, v = (np.full_like(along, o), along) if vertical else (along, np.full_like(along, o))
            xy = rot @ np.vstack([u, v])
            lat, lon = to_latlon(cx + xy[0], cy + xy[1], lat0)
            inside = in_polygon(lat, lon, outline)
            # every run of consecutive inside nodes becomes one road
            edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(int), [0]])))
            for start, stop in zip(edges[::2], edges[1::2], strict=True):
                b.way(np.column_stack([lat[start:stop], lon[start:stop]]), "unclassified", 70,
                      f"{INLAND_ROAD_NAMES[k % len(INLAND_ROAD_NAMES)]} ({island})", None)


def build_network() -> RoadNetwork:
    """The deterministic demo road network (same for every seed)."""
    b = _Builder()
    lines: dict[str, np.ndarray] = {}
    for route in ROUTES:
        places = [_place(s) for s in route.stops]
        legs = [_curve(places[i], places[i + 1], b.rng) for i in range(len(places) - 1)]
        line = np.vstack([legs[0]] + [leg[1:] for leg in legs[1:]])
        lines[route.ref] = line
        for run, in_town in _split_by_town(line):
            speed = 50 if in_town and route.speed >= 70 else route.speed
            if route.highway == "trunk" and in_town:
                speed = 70  # expressway slows but stays an expressway near town
            b.way(run, route.highway, speed, route.name, route.ref, lanes=route.lanes)
    count, lo_km, hi_km = TRIBE_ROADS
    for commune in COMMUNES:
        if commune.greater_noumea:
            continue
        for k in range(count):
            angle = b.rng.uniform(0, 2 * np.pi)
            length = b.rng.uniform(lo_km, hi_km) * 1000
            cx, cy = to_xy(commune.lat, commune.lon, commune.lat)
            end = to_latlon(cx + length * np.cos(angle), cy + length * np.sin(angle), commune.lat)
            end = (float(np.clip(end[0], -22.95, -19.55)), float(np.clip(end[1], 163.55, 167.95)))
            b.way(_curve((commune.lat, commune.lon), end, b.rng), "tertiary", 70,
                  f"{TRIBE_ROAD_NAMES[(k + int(commune.insee)) % len(TRIBE_ROAD_NAMES)]} ({commune.name})", None)
    for commune in COMMUNES:
        half_ns, half_ew, step = TOWN_GRIDS.get(commune.name, SMALL_TOWN_GRID)
        _add_grid(b, commune, half_ns, half_ew, step)
    _add_inland_roads(b, lines)
    _add_island_roads(b)
    return RoadNetwork(np.array(b.lat), np.array(b.lon), tuple(b.ways))


def write_osm_xml(network: RoadNetwork, path) -> None:
    """OSM XML 0.6 that osmnx.graph_from_xml can load. Text is built in one pass; nodes carry no
    (optional) version attribute and indentation is minimal to keep the file under 2 MB."""
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<osm version="0.6" generator="accidents demo (SYNTHETIC road network, not OpenStreetMap data)">',
        "  <!-- SYNTHETIC demo network for offline runs: simplified New Caledonia roads -->",
    ]
    lines += [
        f'<node id="{i + 1}" lat="{la:.6f}" lon="{lo:.6f}"/>'
        for i, (la, lo) in enumerate(zip(network.node_lat, network.node_lon, strict=True))
    ]
    for w in network.ways:
        lines.append(f'<way id="{w.way_id}" version="1">')
        lines += [f'  <nd ref="{n}"/>' for n in w.node_ids]
        tags = {"highway": w.highway, "name": w.name}
        if w.ref:
            tags["ref"] = w.ref
        if w.tag_maxspeed:
            tags["maxspeed"] = str(w.speed)
        if w.lanes:
            tags["lanes"] = str(w.lanes)
        if w.oneway:
            tags["oneway"] = "yes"
        lines += [f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


@dataclass(frozen=True)
class Sites:
    """Points every ~250 m along each way, carrying the attributes of their way."""

    lat: np.ndarray
    lon: np.ndarray
    speed: np.ndarray
    highway: np.ndarray
    way_index: np.ndarray  # index into network.ways


def sample_sites(network: RoadNetwork, spacing_m: float = 250.0) -> Sites:
    """Resample every way at `spacing_m` (vectorised per way; a few hundred ways)."""
    lats, lons, idx = [], [], []
    for k, w in enumerate(network.ways):
        ids = np.asarray(w.node_ids) - 1
        la, lo = network.node_lat[ids], network.node_lon[ids]
        lat0 = float(la.mean())
        x, y = to_xy(la, lo, lat0)
        seg = np.hypot(np.diff(x), np.diff(y))
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        n = max(1, int(round(cum[-1] / spacing_m)))
        s = (np.arange(n) + 0.5) * cum[-1] / n  # mid-spacing: no double sites at shared nodes
        sx, sy = np.interp(s, cum, x), np.interp(s, cum, y)
        sla, slo = to_latlon(sx, sy, lat0)
        lats.append(sla)
        lons.append(slo)
        idx.append(np.full(n, k))
    way_index = np.concatenate(idx)
    ways = network.ways
    return Sites(
        lat=np.concatenate(lats),
        lon=np.concatenate(lons),
        speed=np.array([w.speed for w in ways])[way_index],
        highway=np.array([w.highway for w in ways])[way_index],
        way_index=way_index,
    )
