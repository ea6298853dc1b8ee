"""Rough land outlines of New Caledonia for the synthetic demo network (keeps inland roads off the sea).

Hand-drawn polygons (lat, lon) a little outside the coastal commune centres: good to ~2 km, which is
all the demo needs. `on_land` is a vectorised even-odd ray test (no shapely import at demo time).
"""

from __future__ import annotations

import numpy as np

GRANDE_TERRE = (
    (-20.06, 164.06), (-20.22, 163.96), (-20.55, 164.22), (-20.94, 164.63), (-21.07, 164.80),
    (-21.34, 165.09), (-21.58, 165.44), (-21.73, 165.70), (-21.89, 166.01), (-22.12, 166.28),
    (-22.31, 166.41), (-22.31, 166.58), (-22.36, 166.80), (-22.44, 166.96), (-22.14, 166.99),
    (-21.86, 166.57), (-21.60, 166.26), (-21.50, 166.00), (-21.37, 165.86), (-21.26, 165.66),
    (-21.05, 165.44), (-20.92, 165.36), (-20.76, 165.27), (-20.66, 164.97), (-20.37, 164.61),
    (-20.29, 164.44), (-20.10, 164.13),
)
# The spine of the central chain, NW to SE: inland roads climb from the coast towards it.
SPINE = ((-20.15, 164.10), (-20.75, 164.85), (-21.30, 165.45), (-21.75, 166.05), (-22.25, 166.80))
ISLANDS = {
    "Lifou": ((-20.70, 167.05), (-20.78, 167.28), (-20.90, 167.30), (-21.08, 167.40), (-21.18, 167.30),
              (-21.07, 167.08), (-20.96, 166.98), (-20.80, 167.00)),
    # Maré really reaches 168.13 E; the outline stops at the 168.0 E edge of the département bounds.
    "Maré": ((-21.40, 167.86), (-21.43, 167.97), (-21.53, 167.985), (-21.64, 167.96), (-21.65, 167.83),
             (-21.52, 167.78)),
    "Ouvéa": ((-20.43, 166.57), (-20.47, 166.64), (-20.60, 166.61), (-20.73, 166.51), (-20.76, 166.43),
              (-20.62, 166.51), (-20.50, 166.55)),
    "L'Île-des-Pins": ((-22.54, 167.44), (-22.56, 167.53), (-22.63, 167.56), (-22.71, 167.50),
                       (-22.68, 167.42), (-22.60, 167.40)),
    "Bélep": ((-19.64, 163.64), (-19.66, 163.68), (-19.76, 163.70), (-19.79, 163.67), (-19.72, 163.63)),
}


def in_polygon(lat, lon, polygon) -> np.ndarray:
    """Even-odd ray casting of many points against one polygon (vectorised over points and edges)."""
    lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
    poly = np.asarray(polygon, float)
    y1, x1 = poly[:, 0], poly[:, 1]
    y2, x2 = np.roll(y1, -1), np.roll(x1, -1)
    crosses = (y1[None, :] > lat[:, None]) != (y2[None, :] > lat[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (lat[:, None] - y1) * (x2 - x1) / (y2 - y1)
    return (crosses & (lon[:, None] < x_at)).sum(axis=1) % 2 == 1


def on_land(lat, lon) -> np.ndarray:
    """Whether each point lies on Grande Terre or one of the islands."""
    inside = in_polygon(lat, lon, GRANDE_TERRE)
    for outline in ISLANDS.values():
        inside |= in_polygon(lat, lon, outline)
    return inside
