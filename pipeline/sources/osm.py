"""OpenStreetMap drivable roads: load from a file or download with osmnx, normalise the edges.

Both paths end in `normalise_edges`, which gives one row per undirected drivable edge with a road
class, a speed limit in km/h (tagged, or imputed later by `impute_speed_limits`), lanes, oneway,
metric length, WGS84 geometry and midpoint.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import osmium
import pandas as pd
import requests
import shapely

from pipeline.core.departments import DEPARTMENTS
from pipeline.core.errors import AccidentsError
from pipeline.core.spatial import to_metric

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx

# The 33 communes of New Caledonia (Nominatim names).
NC_COMMUNES = (
    "Bélep", "Boulouparis", "Bourail", "Canala", "Dumbéa", "Farino", "Hienghène", "Houaïlou",
    "L'Île-des-Pins", "Kaala-Gomen", "Koné", "Kouaoua", "Koumac", "La Foa", "Lifou", "Maré", "Moindou",
    "Le Mont-Dore", "Nouméa", "Ouégoa", "Ouvéa", "Païta", "Poindimié", "Ponérihouen", "Pouébo",
    "Pouembout", "Poum", "Poya", "Sarraméa", "Thio", "Touho", "Voh", "Yaté",
)
NC_PROVINCES = ("Province Sud", "Province Nord", "Province des Îles Loyauté")
NC_SUFFIX = ", Nouvelle-Calédonie, France"
NC_TERRITORY = "Nouvelle-Calédonie, France"

# Speed (km/h) assumed for a class without a maxspeed tag nor accident evidence. French/NC rural
# network conventions; a `_link` takes its parent's value minus a margin.
CLASS_DEFAULT_SPEEDS = {
    "motorway": 110.0, "trunk": 90.0, "primary": 90.0, "secondary": 80.0, "tertiary": 70.0,
    "motorway_link": 70.0, "trunk_link": 70.0, "primary_link": 50.0, "secondary_link": 50.0,
    "tertiary_link": 50.0, "unclassified": 50.0, "residential": 50.0, "living_street": 20.0,
    "service": 30.0, "road": 50.0,
}
FALLBACK_SPEED = 50.0
# Classes osmnx's "drive" network excludes; applied to file loads too so both paths agree.
NON_DRIVABLE = {
    "abandoned", "bridleway", "bus_guideway", "construction", "corridor", "cycleway", "elevator",
    "escalator", "footway", "no", "path", "pedestrian", "planned", "platform", "proposed", "raceway",
    "razed", "steps", "track", "busway", "via_ferrata",
}
MPH = 1.609344
# Implicit maxspeed values ("FR:urban" ...), by the part after the country prefix.
IMPLICIT_SPEEDS = {"urban": 50.0, "rural": 80.0, "motorway": 130.0, "trunk": 110.0, "zone30": 30.0,
                   "zone20": 20.0, "living_street": 20.0, "walk": 6.0, "school": 30.0}
_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)

ROAD_COLUMNS = ["edge_id", "osm_way_id", "road_type", "speed_limit", "speed_source", "lanes", "oneway",
                "length_m", "geometry_wkt", "mid_lat", "mid_lon", "source"]


def parse_maxspeed(value) -> float | None:
    """An OSM maxspeed value (str, number, list, 'a;b') -> km/h, or None when it says no number."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        for item in value:
            parsed = parse_maxspeed(item)
            if parsed is not None:
                return parsed
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) if value > 0 else None
    for part in str(value).split(";"):
        text = part.strip().lower()
        match = _NUMBER.match(text)
        if match:
            speed = float(match.group(1).replace(",", "."))
            if match.group(2) and match.group(2).lower() == "mph":
                speed *= MPH
            if speed > 0:
                return round(speed, 1)
            continue
        implicit = IMPLICIT_SPEEDS.get(text.split(":", 1)[-1])
        if implicit is not None:
            return implicit
    return None  # "none", "signals", "variable", garbage: no usable number


def _first(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return value[0] if len(value) else None
    return value


def _parse_lanes(value) -> int | None:
    for item in value if isinstance(value, (list, tuple, np.ndarray)) else [value]:
        match = re.match(r"^\s*(\d+)", str(item)) if item is not None else None
        if match:
            return int(match.group(1))
    return None


def _parse_oneway(value) -> bool:
    value = _first(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return str(value).strip().lower() in ("yes", "true", "1", "-1")


def simplify(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """osmnx simplification that keeps an edge boundary wherever the road class or speed tag changes."""
    import osmnx as ox

    return ox.simplify_graph(graph, edge_attrs_differ=["highway", "maxspeed"])


def edges_from_graph(graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """Undirected edges of an osmnx graph as a GeoDataFrame in EPSG:4326 (u, v, key index dropped)."""
    import osmnx as ox

    if graph.number_of_edges() == 0:
        raise AccidentsError("the OpenStreetMap data holds no road (no way with a highway tag)")
    undirected = ox.convert.to_undirected(graph)
    edges = ox.convert.graph_to_gdfs(undirected, nodes=False, fill_edge_geometry=True)
    return edges.reset_index()


def normalise_edges(edges: gpd.GeoDataFrame, *, crs: str, source: str) -> gpd.GeoDataFrame:
    """Raw osmnx edges -> bronze.roads columns (speed_source 'maxspeed' or 'class_default') + geometry."""
    import geopandas as gpd

    edges = edges.copy()
    for column in ("highway", "maxspeed", "lanes", "oneway", "osmid"):
        if column not in edges.columns:
            edges[column] = None
    edges["road_type"] = edges["highway"].map(lambda v: str(_first(v)) if _first(v) is not None else "road")
    edges = edges[~edges["road_type"].isin(NON_DRIVABLE)]
    if edges.empty:
        raise AccidentsError("the OpenStreetMap data holds no drivable road")
    sort_keys = [c for c in ("u", "v", "key") if c in edges.columns]
    edges = edges.sort_values(sort_keys).reset_index(drop=True) if sort_keys else edges.reset_index(drop=True)

    tagged = edges["maxspeed"].map(parse_maxspeed)
    defaults = edges["road_type"].map(CLASS_DEFAULT_SPEEDS).fillna(FALLBACK_SPEED)
    metric = edges.geometry.to_crs(crs)
    midpoints = gpd.GeoSeries(metric.interpolate(0.5, normalized=True), crs=crs).to_crs("EPSG:4326")
    out = gpd.GeoDataFrame(
        {
            "edge_id": np.arange(len(edges), dtype=np.int64),
            "osm_way_id": edges["osmid"].map(lambda v: int(_first(v)) if _first(v) is not None else -1),
            "road_type": edges["road_type"].astype(str),
            "speed_limit": tagged.fillna(defaults).astype(float),
            "speed_source": np.where(tagged.notna(), "maxspeed", "class_default"),
            "lanes": edges["lanes"].map(_parse_lanes).astype("Int64"),
            "oneway": edges["oneway"].map(_parse_oneway).astype(bool),
            "length_m": metric.length.to_numpy(),
            "geometry_wkt": shapely.to_wkt(edges.geometry.to_numpy(), rounding_precision=7),
            "mid_lat": midpoints.y.to_numpy(),
            "mid_lon": midpoints.x.to_numpy(),
            "source": source,
        },
        geometry=edges.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    return out


def impute_speed_limits(roads: gpd.GeoDataFrame, accidents: pd.DataFrame, *, crs: str,
                        radius_m: float = 50.0) -> gpd.GeoDataFrame:
    """Replace class defaults by the median BAAC `vma` of accidents within `radius_m` of the edge."""
    evidence = accidents.dropna(subset=["lat", "lon", "vma"])
    evidence = evidence[evidence["vma"] > 0]
    roads = roads.copy()
    if evidence.empty or roads.empty:
        return roads
    x, y = to_metric(evidence["lon"], evidence["lat"], crs)
    tree = shapely.STRtree(roads.geometry.to_crs(crs).to_numpy())
    (acc_idx, edge_idx) = tree.query_nearest(shapely.points(x, y), max_distance=radius_m, all_matches=False)
    vma = evidence["vma"].to_numpy(dtype=float)[acc_idx]
    medians = pd.Series(vma).groupby(edge_idx).median()
    target = roads.index[medians.index]
    use = roads.loc[target, "speed_source"] == "class_default"  # a maxspeed tag beats accident evidence
    roads.loc[target[use.to_numpy()], "speed_limit"] = medians.to_numpy()[use.to_numpy()]
    roads.loc[target[use.to_numpy()], "speed_source"] = "baac_vma"
    return roads


def load_roads_from_file(path: str | Path, *, crs: str = "EPSG:3163") -> gpd.GeoDataFrame:
    """Drivable roads of an OSM XML (.osm/.xml) or PBF (.osm.pbf) file."""
    path = Path(path)
    if not path.is_file():
        raise AccidentsError(f"roads file {path} does not exist")
    name = path.name.lower()
    if name.endswith(".pbf"):
        # osmnx reads XML only: convert with libosmium, then go through the same XML path
        with tempfile.TemporaryDirectory(prefix="accidents-osm-") as tmp:
            xml_path = Path(tmp) / "roads.osm"
            _pbf_to_xml(path, xml_path)
            return _load_xml(xml_path, path, crs)
    if name.endswith((".osm", ".xml")):
        return _load_xml(path, path, crs)
    raise AccidentsError(f"roads file {path}: expected a .osm, .xml or .osm.pbf file")


def _load_xml(xml_path: Path, source: Path, crs: str) -> gpd.GeoDataFrame:
    import osmnx as ox

    try:
        graph = simplify(ox.graph_from_xml(xml_path, simplify=False, retain_all=True))
    except AccidentsError:
        raise
    except Exception as exc:  # malformed XML, no ways...
        raise AccidentsError(f"roads file {source}: cannot read OSM XML: {str(exc).splitlines()[0]}") from None
    try:
        edges = edges_from_graph(graph)
    except AccidentsError as exc:
        raise AccidentsError(f"roads file {source}: {exc}") from None
    return normalise_edges(edges, crs=crs, source=f"file:{source.name}")


def _pbf_to_xml(path: Path, out: Path) -> None:
    """Rewrite an .osm.pbf as OSM XML with pyosmium (libosmium)."""
    try:
        with osmium.SimpleWriter(str(out)) as writer:
            for obj in osmium.FileProcessor(str(path)):
                writer.add(obj)
    except RuntimeError as exc:  # libosmium's error for a corrupt or non-PBF file
        raise AccidentsError(f"roads file {path}: cannot read OSM PBF: {str(exc).splitlines()[0]}") from None


def download_roads(department: str, cache_dir: str | Path, *, timeout: int = 180,
                   places: tuple[str, ...] | None = None, crs: str = "EPSG:3163") -> gpd.GeoDataFrame:
    """The drive network of a département from OpenStreetMap, cached as GeoParquet in cache_dir.

    For New Caledonia each commune is queried; communes that cannot be geocoded are covered by the
    province polygons, or the whole territory when a province fails too.
    """
    import geopandas as gpd

    cache = Path(cache_dir) / f"osm_roads_{department}.parquet"
    if cache.is_file():
        return gpd.read_parquet(cache)
    graph = _download_graph(department, Path(cache_dir), timeout, places)
    roads = normalise_edges(edges_from_graph(graph), crs=crs, source="overpass")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".parquet.tmp")
    roads.to_parquet(tmp)
    tmp.replace(cache)  # a half-written cache is never read
    return roads


def _download_graph(department: str, cache_dir: Path, timeout: int, places) -> nx.MultiDiGraph:
    import networkx as nx
    import osmnx as ox

    ox.settings.requests_timeout = timeout
    ox.settings.cache_folder = str(cache_dir / "osmnx")
    if places is None:
        if department == "988":
            places = tuple(f"{c}{NC_SUFFIX}" for c in NC_COMMUNES)
        else:
            places = (f"{DEPARTMENTS[department].name}, France",)
    graphs, failed = [], []
    for place in places:
        graph = _graph_for_place(place)
        (graphs.append(graph) if graph is not None else failed.append(place))
    if failed and department == "988":
        for province in NC_PROVINCES:
            graph = _graph_for_place(f"{province}{NC_SUFFIX}")
            if graph is None:
                graph = _graph_for_place(NC_TERRITORY)
                if graph is None:
                    raise AccidentsError(f"OpenStreetMap knows no drive network for {NC_TERRITORY}")
                graphs.append(graph)
                break
            graphs.append(graph)
    if not graphs:
        raise AccidentsError(f"OpenStreetMap returned no drive network for {', '.join(failed)}")
    return nx.compose_all(graphs)


def _graph_for_place(place: str):
    """The place's drive graph; None when it cannot be geocoded or has no road; network errors raise."""
    import osmnx as ox
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    try:
        graph = ox.graph_from_place(place, network_type="drive", retain_all=True, simplify=False)
    except (requests.RequestException, ResponseStatusCodeError) as exc:
        raise AccidentsError(
            f"cannot reach OpenStreetMap (Overpass/Nominatim): {str(exc).splitlines()[0]}; use --roads-file"
        ) from None
    except (InsufficientResponseError, TypeError, ValueError):
        return None  # not geocodable to a polygon, or empty network
    return simplify(graph)
