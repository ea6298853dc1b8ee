"""Fixed geography of the synthetic demo: New Caledonia's 33 communes, the main routes joining them
and distances on the sphere. The road network built from them is `network`.

Communes sit at approximate town centres with their INSEE codes; routes join them along the real
main roads (RT1 west coast, east coast road, transversals, island rings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Commune:
    insee: str
    name: str
    lat: float
    lon: float
    weight: float  # calibration: 2023 accident count (small pseudo-count where the count was 0)
    greater_noumea: bool = False


# 2023 counts from the real New Caledonia rows; 0-count communes get 0.5 so they can still occur.
COMMUNES: tuple[Commune, ...] = (
    Commune("98801", "Bélep", -19.718, 163.662, 0.5),
    Commune("98802", "Bouloupari", -21.862, 166.050, 7),
    Commune("98803", "Bourail", -21.568, 165.497, 8),
    Commune("98804", "Canala", -21.522, 165.960, 3),
    Commune("98805", "Dumbéa", -22.153, 166.444, 13, True),
    Commune("98806", "Farino", -21.650, 165.773, 0.5),
    Commune("98807", "Hienghène", -20.690, 164.940, 0.5),
    Commune("98808", "Houaïlou", -21.280, 165.620, 10),
    Commune("98809", "L'Île-des-Pins", -22.640, 167.440, 2),
    Commune("98810", "Kaala-Gomen", -20.665, 164.400, 3),
    Commune("98811", "Koné", -21.060, 164.860, 7),
    Commune("98812", "Koumac", -20.563, 164.283, 2),
    Commune("98813", "La Foa", -21.710, 165.826, 1),
    Commune("98814", "Lifou", -20.918, 167.265, 3),
    Commune("98815", "Maré", -21.550, 167.875, 5),
    Commune("98816", "Moindou", -21.692, 165.680, 0.5),
    Commune("98817", "Le Mont-Dore", -22.263, 166.572, 15, True),
    Commune("98818", "Nouméa", -22.272, 166.448, 81, True),
    Commune("98819", "Ouégoa", -20.345, 164.432, 7),
    Commune("98820", "Ouvéa", -20.645, 166.555, 2),
    Commune("98821", "Païta", -22.133, 166.358, 15, True),
    Commune("98822", "Poindimié", -20.937, 165.330, 5),
    Commune("98823", "Ponérihouen", -21.070, 165.400, 5),
    Commune("98824", "Pouébo", -20.398, 164.575, 2),
    Commune("98825", "Pouembout", -21.133, 164.902, 6),
    Commune("98826", "Poum", -20.233, 164.020, 1),
    Commune("98827", "Poya", -21.345, 165.155, 3),
    Commune("98828", "Sarraméa", -21.640, 165.850, 0.5),
    Commune("98829", "Thio", -21.612, 166.215, 1),
    Commune("98830", "Touho", -20.780, 165.238, 2),
    Commune("98831", "Voh", -20.960, 164.690, 6),
    Commune("98832", "Yaté", -22.155, 166.940, 3),
    Commune("98833", "Kouaoua", -21.395, 165.828, 4),
)
COMMUNE_BY_NAME = {c.name: c for c in COMMUNES}


@dataclass(frozen=True)
class Route:
    """A road through a sequence of places (commune names or explicit (lat, lon) waypoints)."""

    ref: str  # OSM `ref` and BAAC `voie`
    name: str  # street name used for BAAC `adr`
    highway: str
    speed: int  # rural speed limit (km/h); drops to 50 near commune centres
    stops: tuple
    ring: bool = False
    lanes: int | None = None


ROUTES: tuple[Route, ...] = (
    Route("VE1", "Voie Express 1 - Savexpress", "trunk", 110,
          ("Nouméa", (-22.215, 166.430), "Dumbéa", "Païta"), lanes=2),
    Route("RT1", "Route Territoriale 1", "primary", 90,
          ("Païta", (-21.98, 166.20), "Bouloupari", "La Foa", "Moindou", "Bourail", "Poya",
           "Pouembout", "Koné", "Voh", "Kaala-Gomen", "Koumac", "Poum")),
    Route("RT2", "Route Territoriale 2 - Mont-Dore", "primary", 90,
          ("Nouméa", (-22.245, 166.505), "Le Mont-Dore")),
    Route("RP3", "Route Provinciale 3 - Route de Yaté", "secondary", 90,
          ("Le Mont-Dore", (-22.20, 166.70), (-22.17, 166.83), "Yaté")),
    Route("RT3", "Route Territoriale 3 - Côte Est", "primary", 90,
          ("Ouégoa", "Pouébo", "Hienghène", "Touho", "Poindimié", "Ponérihouen", "Houaïlou",
           "Kouaoua", "Canala", "Thio")),
    Route("RT7", "Route de Ouégoa", "secondary", 90, ("Koumac", (-20.45, 164.36), "Ouégoa")),
    Route("RPN2", "Transversale Koné-Tiwaka", "primary", 90,
          ("Koné", (-21.00, 165.05), (-20.96, 165.20), "Poindimié")),
    Route("RT4", "Col des Roussettes", "secondary", 80, ("Bourail", (-21.43, 165.56), "Houaïlou")),
    Route("RPS5", "Route de Canala", "secondary", 80,
          ("La Foa", "Sarraméa", (-21.58, 165.90), "Canala")),
    Route("RPS4", "Route de Thio", "secondary", 80, ("Bouloupari", (-21.75, 166.14), "Thio")),
    Route("RP6", "Route de Farino", "tertiary", 70, ("La Foa", "Farino")),
    Route("RPN1", "Route de Népoui", "tertiary", 70, ("Poya", (-21.30, 164.98), (-21.20, 164.93))),
    Route("RM1", "Route de Lifou", "secondary", 80,
          ((-20.78, 167.12), "Lifou", (-21.07, 167.35), (-21.00, 167.05), (-20.78, 167.12)),
          ring=True),
    Route("RM2", "Route de Maré", "secondary", 80,
          ("Maré", (-21.43, 167.93), (-21.53, 167.96), (-21.62, 167.92), "Maré"), ring=True),
    Route("RM3", "Route de Ouvéa", "secondary", 80, ((-20.45, 166.60), "Ouvéa", (-20.72, 166.45))),
    Route("RM4", "Route de l'Île des Pins", "secondary", 80,
          ("L'Île-des-Pins", (-22.56, 167.45), (-22.60, 167.53), (-22.69, 167.49), "L'Île-des-Pins"),
          ring=True),
    Route("RM5", "Route de Bélep", "tertiary", 70, ((-19.66, 163.65), "Bélep", (-19.77, 163.68))),
)


def to_xy(lat, lon, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    """Local equirectangular metres (good to <0.1 % over a few hundred km)."""
    k = np.pi / 180 * EARTH_RADIUS_M
    return np.asarray(lon) * k * np.cos(np.radians(lat0)), np.asarray(lat) * k


def to_latlon(x, y, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    k = np.pi / 180 * EARTH_RADIUS_M
    return y / k, x / (k * np.cos(np.radians(lat0)))


def nearest_commune(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Index into COMMUNES of the nearest commune centre (haversine against all 33 centres at once:
    a points x 33 matrix is cheaper than building a spatial index, and avoids importing sklearn)."""
    centres = np.array([(c.lat, c.lon) for c in COMMUNES])
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    out = np.empty(len(lat), dtype=np.int64)
    for start in range(0, len(lat), 100_000):  # bounded memory at large scales
        sl = slice(start, start + 100_000)
        d = distance_m(lat[sl, None], lon[sl, None], centres[None, :, 0], centres[None, :, 1])
        out[sl] = d.argmin(axis=1)
    return out


def distance_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Haversine distance in metres (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))
