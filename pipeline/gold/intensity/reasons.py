"""Why a place is a hotspot: the factors that raise its expected count, as multipliers.

For a model with a GLM part, each factor's contribution is its terms' share of log lambda compared
with a reference: the average road point for the place's terms (road length, road class and speed,
junctions, bends, closeness to the commune seat, the commune) and, at the hotspot's peak hour, the
average hour of that year in normal weather for the time terms (hour of day, weekday, month, public
holiday, night, weekend and rush hour on the point's road group, rain). Factors raising the rate by
at least MIN_RATIO are listed, strongest first. Boosted trees add the trees' own adjustment as one
factor; the hotspot map's only reason is its past accidents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.communes import official_seats
from pipeline.gold.intensity.boosted import BoostedGLM, coarse_keys
from pipeline.gold.intensity.cells import TimeCells, WeatherSeries, year_hours
from pipeline.gold.intensity.hotspot import HotspotMap
from pipeline.gold.intensity.terms import GROUPS, point_groups
from pipeline.gold.intensity.uncertainty import glm_part

MIN_RATIO = 1.10
MAX_REASONS = 5
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

POINT_FACTORS = (
    ("road length", ("log_road_km",)),
    ("road class and speed", ("share_", "class_", "speed_")),
    ("junctions", ("junctions",)),
    ("bends", ("bends",)),
    ("town centre", ("near_seat_", "town")),
    ("commune", ("commune_",)),
)
TIME_FACTORS = (
    ("hour of day", ("hour_",)), ("weekday", ("dow_",)), ("month", ("month_",)),
    ("public holiday", ("holiday", "holiday_night")), ("school holidays", ("school",)),
    ("night", tuple(f"{g}:night" for g in GROUPS) + tuple(f"{g}:weekend_night" for g in GROUPS)),
    ("weekend", tuple(f"{g}:weekend" for g in GROUPS)), ("rush hour", tuple(f"{g}:rush" for g in GROUPS)),
    ("rain", ("rain", "heavy_rain", "fast road:rain", "fast road:heavy_rain")), ("weather", ("weather_",)),
)


def _factor_masks(columns, factors) -> dict[str, np.ndarray]:
    masks = {}
    for name, prefixes in factors:
        masks[name] = np.array([any(c == p or (p.endswith("_") and c.startswith(p)) for p in prefixes)
                                for c in columns])
    return masks


def _point_detail(name: str, point: pd.Series) -> str:
    if name == "road length":
        return f"{float(point['road_km']):.1f} km of road served"
    if name == "road class and speed":
        return f"{point['road_type']} road at {float(point['speed_limit']):.0f} km/h"
    if name == "junctions":
        return f"{int(point['intersections_100m'] or 0)} junction(s) within 100 m"
    if name == "bends":
        return f"winding road (sinuosity {float(point['road_sinuosity']):.2f})"
    if name == "town centre":
        return f"{float(point['dist_to_commune_seat_km']):.1f} km from the commune seat"
    return f"commune {commune_name(str(point['com']), str(point.get('dep', '')))}"


def commune_name(code: str, department: str) -> str:
    """'Nouméa (98818)' where the commune list is shipped, else the code."""
    seats = official_seats(department) if department else None
    if seats is not None:
        found = seats.names[seats.codes == code]
        if len(found):
            return f"{found[0]} ({code})"
    return code


def _time_detail(name: str, hour, group: str, atm: int) -> str:
    if name == "hour of day":
        return f"{hour.hour:02d}:00"
    if name == "weekday":
        return WEEKDAYS[hour.dayofweek]
    if name == "month":
        return MONTHS[hour.month - 1]
    if name == "rain":
        return ("heavy rain" if atm == 3 else "light rain") + (" on a fast road" if group == "fast road" else "")
    if name in ("night", "weekend", "rush hour"):
        return f"{name} on a {group}"
    return name


def time_reference(glm, year: int, department: str) -> np.ndarray:
    """(G, dt) the time design of each road group averaged over every hour of `year` in normal weather."""
    hours = year_hours([year])
    cells = TimeCells.of(hours, WeatherSeries(np.zeros(1, dtype=np.int64), np.ones((1, len(hours)), dtype=np.int64)),
                         department)
    share = cells.exposure[0] / cells.exposure[0].sum()
    return np.stack([share @ glm.time_terms.matrix(cells.keys, g) for g in range(len(GROUPS))])


def glm_reasons(glm, points: pd.DataFrame, index: int, hour, key: pd.DataFrame, reference: np.ndarray) -> list[tuple]:
    """(log contribution, factor, detail) of point `index` of `points` at `hour` (a Timestamp) whose time
    key is the one-row frame `key` (cells.TIME_KEY); `reference` is `time_reference`'s (G, dt)."""
    design = glm.point_terms.matrix(points)
    delta_point = (design[index] - design.mean(axis=0)) * glm.alpha[1:]
    group = int(point_groups(points.iloc[[index]])[0])
    delta_time = (glm.time_terms.matrix(key, group)[0] - reference[group]) * glm.beta
    atm = int(key["atm"].iloc[0])
    row = points.iloc[index]
    reasons = [(float(delta_point[mask].sum()), name, _point_detail(name, row))
               for name, mask in _factor_masks(glm.point_terms.columns, POINT_FACTORS).items()]
    reasons += [(float(delta_time[mask].sum()), name, _time_detail(name, hour, GROUPS[group], atm))
                for name, mask in _factor_masks(glm.time_terms.columns, TIME_FACTORS).items()]
    return reasons


def model_reasons(model, points: pd.DataFrame, index: int, hour, key: pd.DataFrame,
                  reference: np.ndarray | None) -> list[dict]:
    """The top factors of any candidate at point `index` and `hour` (module docstring)."""
    if isinstance(model, HotspotMap):
        return map_reasons(model, points, index)
    glm = glm_part(model)
    if glm is None:  # a blend of maps only
        return map_reasons(next(c for c in model.components if isinstance(c, HotspotMap)), points, index)
    reasons = glm_reasons(glm, points, index, hour, key, reference)
    if isinstance(model, BoostedGLM):
        adjustment = model.adjustment(points.iloc[[index]])[0, coarse_keys(key)[0]]
        reasons.append((float(adjustment), f"learned by {model.library}", "place and time pattern beyond the GLM"))
    return _top(reasons)


def _top(reasons) -> list[dict]:
    kept = sorted((r for r in reasons if r[0] >= np.log(MIN_RATIO)), reverse=True)[:MAX_REASONS]
    return [{"factor": name, "detail": detail, "ratio": round(float(np.exp(c)), 2)} for c, name, detail in kept]


def map_reasons(model, points: pd.DataFrame, index: int) -> list[dict]:
    """The hotspot map's reason: its past accidents, against the average point's."""
    position = pd.Index(model.point_ids).get_indexer([points["point_id"].iloc[index]])[0]
    if position < 0:
        return []
    ratio = model.point_yearly[position] / max(float(np.mean(model.point_yearly)), 1e-12)
    years = f"{model.train_years[0]}-{model.train_years[-1]}"
    detail = f"{model.point_yearly[position]:.2f} a year expected from the accidents of {years}"
    return _top([(float(np.log(max(ratio, 1e-12))), "past accidents", detail)])
