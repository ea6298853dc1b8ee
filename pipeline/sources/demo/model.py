"""The true accident intensity of the synthetic demo, and its loader for evaluation.

    lambda(site, hour) = base_rate(site) * year_factor(year) * hour_factor(h) * dow_factor(d)
                         * month_factor(m) * modifiers(group(site), hour, holiday, atm)

Within a commune, a site's share grows near the centre, on main roads, near junctions and at bends
(JUNCTION_FACTOR, BEND_FACTOR). Sites fall in four groups (urban/rural x slow/fast road, fast = speed >= 80 km/h). The modifiers
carry structure a purely spatial hotspot map cannot capture: nights and weekends are riskier on
fast rural roads, rush hours in town, rain more on fast roads, holiday nights everywhere. The
hour/weekday/month factors and per-group factors are then fitted (iterative proportional fitting)
so that the expected marginals match the real 2023 New Caledonia figures, and the commune shares
stay those of the calibration table.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.sources.demo import calendar as cal
from pipeline.sources.demo.geography import COMMUNES, distance_m, nearest_commune
from pipeline.sources.demo.network import RoadNetwork, sample_sites

# --- Calibration: real 2023 marginals for New Caledonia (222 accidents) ----------------------
HOUR_COUNTS = (4, 10, 2, 4, 6, 8, 6, 13, 10, 10, 17, 12, 12, 13, 9, 9, 13, 9, 17, 9, 6, 12, 10, 1)
WEEKDAY_COUNTS = (25, 19, 21, 25, 26, 58, 48)  # Mon..Sun
MONTH_COUNTS = (17, 23, 20, 22, 13, 15, 19, 21, 20, 14, 14, 24)
HOUR_SMOOTHING = 2.0  # pseudo-count per hour: one year of counts is noisy (hour 23 has 1)
# Expected accidents per year at scale 1 (2023 is the measured 222; others within 250-320).
YEAR_TARGETS = {2019: 275, 2020: 270, 2021: 285, 2022: 280, 2023: 222, 2024: 275}
DEFAULT_YEAR_TARGET = 290

# --- Spatial structure -------------------------------------------------------------------------
FAST_SPEED = 80
# Built-up radius (agg=2): Nouméa's whole grid, the suburbs' and villages' cores (gives ~49 % urban as in 2023).
URBAN_RADIUS_M = {"98818": 3_300.0, "98805": 1_800.0, "98817": 1_800.0, "98821": 1_800.0}
DEFAULT_URBAN_RADIUS_M = 1_000.0
CENTRE_BOOST, CENTRE_SCALE_M = 4.0, 1_500.0  # hotspots: weight 1 + 4 exp(-d / 1.5 km) near centres
HIGHWAY_WEIGHT = {"trunk": 1.6, "primary": 1.3, "secondary": 1.0, "tertiary": 0.6, "residential": 0.8,
                  "unclassified": 0.1}  # inland valley roads: little traffic
GROUP_NAMES = ("urban_slow", "urban_fast", "rural_slow", "rural_fast")
# Road geometry (road-safety literature: junction areas and bends carry well above their length's
# share of crashes): a site within 100 m of a junction (a node where >= 3 way ends meet) weighs
# JUNCTION_FACTOR more; a bend multiplies by 1 + (BEND_FACTOR - 1) * min(turn / BEND_FULL_DEG, 1), the
# turn being the direction change at the nearest shape node within BEND_RADIUS_M.
JUNCTION_FACTOR, JUNCTION_RADIUS_M = 1.6, 100.0
BEND_FACTOR, BEND_FULL_DEG, BEND_RADIUS_M = 2.0, 30.0, 150.0

# --- Temporal modifiers (the truth a model should learn) ---------------------------------------
MODIFIERS = {
    "night_hours": [22, 23, 0, 1, 2, 3, 4, 5],
    "rush_hours": [7, 8, 17, 18],
    "night_rural_fast": 2.5,
    "weekend_rural_fast": 1.5,
    "weekend_night_rural_fast": 1.3,
    "rush_urban_weekday": 1.8,
    "holiday_night": 1.8,
    "overcast": 1.05,
    "light_rain": {"slow": 1.3, "fast": 2.0},
    "heavy_rain": {"slow": 1.7, "fast": 3.2},
}


def lookup(mapping: dict, keys: np.ndarray) -> np.ndarray:
    """mapping[key] for every element, one dictionary access per distinct key."""
    distinct, inverse = np.unique(np.asarray(keys), return_inverse=True)
    return np.array([mapping[k] for k in distinct.tolist()])[inverse]


def _node_geometry(network: RoadNetwork) -> tuple[np.ndarray, np.ndarray]:
    """(junction node indices, turn in degrees at every node: 0 where a way does not bend there)."""
    n = len(network.node_lat)
    degree = np.zeros(n, dtype=np.int64)
    turn = np.zeros(n)
    lat0 = float(np.mean(network.node_lat))
    x, y = np.radians(network.node_lon) * np.cos(np.radians(lat0)), np.radians(network.node_lat)
    for way in network.ways:  # a few thousand ways
        ids = np.asarray(way.node_ids) - 1
        degree[ids[[0, -1]]] += 1
        degree[ids[1:-1]] += 2
        if len(ids) > 2:
            heading = np.arctan2(np.diff(y[ids]), np.diff(x[ids]))
            change = np.degrees(np.abs((np.diff(heading) + np.pi) % (2 * np.pi) - np.pi))
            turn[ids[1:-1]] = np.maximum(turn[ids[1:-1]], change)
    return np.flatnonzero(degree >= 3), turn


def geometry_factor(network: RoadNetwork, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(factor, near_junction, bend_deg) of sites at (lat, lon); see JUNCTION_FACTOR / BEND_FACTOR."""
    from sklearn.neighbors import BallTree

    junction, turn = _node_geometry(network)
    nodes = np.radians(np.column_stack([network.node_lat, network.node_lon]))
    sites = np.radians(np.column_stack([lat, lon]))
    radius = 6_371_000.0
    near = np.zeros(len(sites), dtype=bool)
    if len(junction):
        dist, _ = BallTree(nodes[junction], metric="haversine").query(sites, k=1)
        near = dist[:, 0] * radius <= JUNCTION_RADIUS_M
    dist, idx = BallTree(nodes, metric="haversine").query(sites, k=1)
    bend = np.where(dist[:, 0] * radius <= BEND_RADIUS_M, turn[idx[:, 0]], 0.0)
    factor = np.where(near, JUNCTION_FACTOR, 1.0) * (1 + (BEND_FACTOR - 1) * np.minimum(bend / BEND_FULL_DEG, 1.0))
    return factor, near, bend


def site_table(network: RoadNetwork) -> pd.DataFrame:
    """Sites every ~250 m with commune, urban flag, group and normalised spatial weight `share`.

    Commune shares of `share` equal the calibration commune shares; within a commune, sites near
    the centre and on main roads weigh more.
    """
    s = sample_sites(network)
    # Crossing grid streets can put two sites on the same spot: keep one (sites must be distinct points).
    _, first = np.unique(np.round(np.column_stack([s.lat, s.lon]), 7), axis=0, return_index=True)
    keep = np.sort(first)
    s = type(s)(s.lat[keep], s.lon[keep], s.speed[keep], s.highway[keep], s.way_index[keep])
    com_idx = nearest_commune(s.lat, s.lon)
    centre_lat = np.array([c.lat for c in COMMUNES])[com_idx]
    centre_lon = np.array([c.lon for c in COMMUNES])[com_idx]
    com = np.array([c.insee for c in COMMUNES])[com_idx]
    d_centre = distance_m(s.lat, s.lon, centre_lat, centre_lon)
    radius = np.array([URBAN_RADIUS_M.get(c.insee, DEFAULT_URBAN_RADIUS_M) for c in COMMUNES])[com_idx]
    urban = (d_centre < radius) & (s.speed <= 70)
    fast = s.speed >= FAST_SPEED
    group = np.where(urban, 0, 2) + fast.astype(int)
    road_weight = lookup(HIGHWAY_WEIGHT, s.highway)
    geometry, near_junction, bend_deg = geometry_factor(network, s.lat, s.lon)
    weight = (1 + CENTRE_BOOST * np.exp(-d_centre / CENTRE_SCALE_M)) * road_weight * geometry
    commune_weight = np.array([c.weight for c in COMMUNES])
    target = commune_weight / commune_weight.sum()
    per_commune = np.bincount(com_idx, weights=weight, minlength=len(COMMUNES))
    share = target[com_idx] * weight / per_commune[com_idx]
    return pd.DataFrame({
        "site_id": np.arange(len(share), dtype=np.int64),
        "lat": s.lat, "lon": s.lon,
        "share": share,
        "speed_limit": s.speed.astype(np.int64),
        "highway": s.highway,
        "urban": urban,
        "group": group.astype(np.int64),
        "com": com,
        "way_index": s.way_index.astype(np.int64),
        "dist_centre_m": d_centre,
        "near_junction": near_junction,
        "bend_deg": bend_deg,
    })


def _calendar_arrays(times: pd.DatetimeIndex, holidays: set) -> dict[str, np.ndarray]:
    hour = times.hour.to_numpy()
    dow = times.dayofweek.to_numpy()
    dates = times.normalize()
    is_holiday = np.isin(dates.values.astype("datetime64[D]"), np.array(sorted(holidays), dtype="datetime64[D]"))
    next_day = (dates + pd.Timedelta(days=1)).values.astype("datetime64[D]")
    eve = np.isin(next_day, np.array(sorted(holidays), dtype="datetime64[D]"))
    night = np.isin(hour, MODIFIERS["night_hours"])
    # A holiday night: the small hours of the holiday and the late evening before it.
    holiday_night = night & ((is_holiday & (hour < 12)) | (eve & (hour >= 12)))
    return {"hour": hour, "dow": dow, "month": times.month.to_numpy(), "year": times.year.to_numpy(),
            "night": night, "weekend": dow >= 5, "holiday": is_holiday, "holiday_night": holiday_night}


def modifier_matrix(times: pd.DatetimeIndex, atm: np.ndarray, holidays: set,
                    modifiers: dict = MODIFIERS) -> np.ndarray:
    """(4 groups, n_hours) multiplicative modifiers, vectorised."""
    c = _calendar_arrays(times, holidays)
    n = len(times)
    m = np.ones((4, n))
    rural_fast = 3
    m[rural_fast] *= np.where(c["night"], modifiers["night_rural_fast"], 1.0)
    m[rural_fast] *= np.where(c["weekend"], modifiers["weekend_rural_fast"], 1.0)
    m[rural_fast] *= np.where(c["weekend"] & c["night"], modifiers["weekend_night_rural_fast"], 1.0)
    rush = np.isin(c["hour"], modifiers["rush_hours"]) & ~c["weekend"] & ~c["holiday"]
    m[[0, 1]] *= np.where(rush, modifiers["rush_urban_weekday"], 1.0)
    m *= np.where(c["holiday_night"], modifiers["holiday_night"], 1.0)
    atm = np.asarray(atm)
    fast = np.array([False, True, False, True])[:, None]
    for code, key in ((cal.ATM_LIGHT_RAIN, "light_rain"), (cal.ATM_HEAVY_RAIN, "heavy_rain")):
        factor = np.where(fast, modifiers[key]["fast"], modifiers[key]["slow"])
        m *= np.where(atm[None, :] == code, factor, 1.0)
    m *= np.where(atm == cal.ATM_OVERCAST, modifiers["overcast"], 1.0)[None, :]
    return m


@dataclass
class FittedModel:
    """Everything besides sites and weather needed to evaluate lambda (serialised as model.json)."""

    hour_factor: np.ndarray  # (24,)
    dow_factor: np.ndarray  # (7,)
    month_factor: np.ndarray  # (12,)
    group_factor: np.ndarray  # (4,)
    year_unit_factor: dict[int, float]  # per expected accident of the year's target
    year_targets: dict[int, float]  # expected accidents per year (already times scale)
    scale: float
    holidays: list
    modifiers: dict

    def year_factor(self, years: np.ndarray) -> np.ndarray:
        default_unit = float(np.mean(list(self.year_unit_factor.values())))
        out = np.empty(len(years))
        for y in np.unique(years):
            unit = self.year_unit_factor.get(int(y), default_unit)
            target = self.year_targets.get(int(y), YEAR_TARGETS.get(int(y), DEFAULT_YEAR_TARGET) * self.scale)
            out[years == y] = unit * target
        return out

    def time_factors(self, times: pd.DatetimeIndex, atm: np.ndarray) -> np.ndarray:
        """(4, n_hours): lambda(site, t) = site.base_rate * time_factors[site.group, t]."""
        holidays = set(self.holidays) | set(cal.nc_public_holidays(np.unique(times.year).tolist()))
        c = _calendar_arrays(times, holidays)
        common = (self.hour_factor[c["hour"]] * self.dow_factor[c["dow"]] * self.month_factor[c["month"] - 1]
                  * self.year_factor(c["year"]))
        return common[None, :] * modifier_matrix(times, atm, holidays, self.modifiers)

    def to_json(self) -> dict:
        return {
            "description": "SYNTHETIC demo intensity: lambda(site, hour) = sites.base_rate * year_factor"
                           " * hour_factor[h] * dow_factor[d] * month_factor[m] * modifiers(group, hour, atm)",
            "hour_factor": self.hour_factor.tolist(), "dow_factor": self.dow_factor.tolist(),
            "month_factor": self.month_factor.tolist(), "group_factor": self.group_factor.tolist(),
            "group_names": list(GROUP_NAMES),
            "year_unit_factor": {str(k): v for k, v in self.year_unit_factor.items()},
            "year_targets": {str(k): v for k, v in self.year_targets.items()},
            "scale": self.scale, "holidays": [d.isoformat() for d in self.holidays],
            "modifiers": self.modifiers, "fast_speed_kmh": FAST_SPEED,
        }

    @classmethod
    def from_json(cls, d: dict) -> FittedModel:
        return cls(
            hour_factor=np.array(d["hour_factor"]), dow_factor=np.array(d["dow_factor"]),
            month_factor=np.array(d["month_factor"]), group_factor=np.array(d["group_factor"]),
            year_unit_factor={int(k): float(v) for k, v in d["year_unit_factor"].items()},
            year_targets={int(k): float(v) for k, v in d["year_targets"].items()},
            scale=float(d["scale"]), holidays=[dt.date.fromisoformat(x) for x in d["holidays"]],
            modifiers=d["modifiers"],
        )


def fit_model(sites: pd.DataFrame, weather: pd.DataFrame, years: list[int], scale: float,
              iterations: int = 60) -> FittedModel:
    """Fit hour/weekday/month/group factors by IPF so expected marginals match the calibration."""
    times = pd.DatetimeIndex(weather["time"])
    holidays = cal.nc_public_holidays(years)
    m = modifier_matrix(times, weather["atm"].to_numpy(), set(holidays))
    c = _calendar_arrays(times, set(holidays))
    group_base = np.bincount(sites["group"], weights=sites["share"], minlength=4)
    hour_t = (np.asarray(HOUR_COUNTS) + HOUR_SMOOTHING) / (np.sum(HOUR_COUNTS) + 24 * HOUR_SMOOTHING)
    dow_t = np.asarray(WEEKDAY_COUNTS) / np.sum(WEEKDAY_COUNTS)
    month_t = np.asarray(MONTH_COUNTS) / np.sum(MONTH_COUNTS)
    group_t = group_base / group_base.sum()
    a_h, a_d, a_m, a_g = np.ones(24), np.ones(7), np.ones(12), np.ones(4)
    present = group_base > 0
    for _ in range(iterations):
        for name in ("hour", "dow", "month", "group"):
            e = (group_base * a_g)[:, None] * m * (a_h[c["hour"]] * a_d[c["dow"]] * a_m[c["month"] - 1])[None, :]
            total = e.sum()
            if name == "group":
                current = e.sum(axis=1) / total
                a_g[present] *= group_t[present] / current[present]
                continue
            idx, factor, target = {
                "hour": (c["hour"], a_h, hour_t), "dow": (c["dow"], a_d, dow_t),
                "month": (c["month"] - 1, a_m, month_t),
            }[name]
            current = np.bincount(idx, weights=e.sum(axis=0), minlength=len(target)) / total
            factor *= target / current
    e = (group_base * a_g)[:, None] * m * (a_h[c["hour"]] * a_d[c["dow"]] * a_m[c["month"] - 1])[None, :]
    targets = {y: YEAR_TARGETS.get(y, DEFAULT_YEAR_TARGET) * scale for y in years}
    # With base_rate = share * group_factor, year_factor = target / (sum of e over the year's hours).
    unit = {y: 1.0 / float(e[:, c["year"] == y].sum()) for y in years}
    return FittedModel(a_h, a_d, a_m, a_g, unit, targets, scale, holidays, MODIFIERS)


def weather_times(weather: pd.DataFrame) -> pd.DatetimeIndex:
    """Hour starts of a weather table with `date` and `hour` columns."""
    dates = pd.to_datetime(weather["date"]).to_numpy()
    return pd.DatetimeIndex(dates + pd.to_timedelta(weather["hour"].to_numpy().astype(np.int64), "h").to_numpy())


@dataclass
class DemoTruth:
    """The true intensity behind a demo data set (SYNTHETIC)."""

    sites: pd.DataFrame  # site_id, lat, lon, base_rate, speed_limit, urban, com, group
    weather: pd.DataFrame  # date, hour, atm
    model: FittedModel

    def true_atm(self, hours: pd.DatetimeIndex) -> np.ndarray:
        w = self.weather
        key = weather_times(w)
        lookup = pd.Series(w["atm"].to_numpy(), index=key)
        atm = lookup.reindex(hours).to_numpy()
        if np.isnan(atm.astype(float)).any():
            first = hours[np.isnan(atm.astype(float))][0]
            raise AccidentsError(f"demo truth: no weather for {first} (generated years only); pass atm=")
        return atm.astype(int)

    def expected_counts(self, point_lat, point_lon, hours: pd.DatetimeIndex, atm=None,
                        chunk_hours: int = 2_000) -> np.ndarray:
        """Expected accidents per (point, hour): every site goes to its nearest point, intensities add.

        `hours` are local hour starts (tz-aware values are converted to Pacific/Noumea). `atm` is None
        (the true weather), one code for all hours, or one code per hour.
        """
        from sklearn.neighbors import BallTree

        hours = pd.DatetimeIndex(hours)
        if hours.tz is not None:
            hours = hours.tz_convert("Pacific/Noumea").tz_localize(None)
        hours = hours.floor("h")
        pts = np.radians(np.column_stack([np.asarray(point_lat, float), np.asarray(point_lon, float)]))
        if len(pts) == 0:
            raise AccidentsError("expected_counts: no points given")
        _, nearest = BallTree(pts, metric="haversine").query(
            np.radians(self.sites[["lat", "lon"]].to_numpy()), k=1)
        n_points = len(pts)
        flat = nearest[:, 0] * 4 + self.sites["group"].to_numpy()
        point_group = np.bincount(flat, weights=self.sites["base_rate"].to_numpy(),
                                  minlength=n_points * 4).reshape(n_points, 4)
        if atm is None:
            atm_arr = self.true_atm(hours)
        else:
            atm_arr = np.broadcast_to(np.asarray(atm, dtype=int), (len(hours),))
        out = np.empty((n_points, len(hours)))
        for start in range(0, len(hours), chunk_hours):
            sl = slice(start, start + chunk_hours)
            out[:, sl] = point_group @ self.model.time_factors(hours[sl], atm_arr[sl])
        return out


def save_truth(truth: DemoTruth, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    truth.sites.to_parquet(folder / "sites.parquet", index=False)
    truth.weather.to_parquet(folder / "weather.parquet", index=False)
    (folder / "model.json").write_text(json.dumps(truth.model.to_json(), indent=1, sort_keys=True) + "\n")


def load_truth(path: Path) -> DemoTruth:
    """Load `demo_truth/` (or a demo output folder containing it)."""
    folder = Path(path)
    if (folder / "demo_truth").is_dir():
        folder = folder / "demo_truth"
    missing = [n for n in ("sites.parquet", "weather.parquet", "model.json") if not (folder / n).exists()]
    if missing:
        raise AccidentsError(f"{folder}: not a demo truth folder (missing {', '.join(missing)})")
    model = FittedModel.from_json(json.loads((folder / "model.json").read_text()))
    return DemoTruth(pd.read_parquet(folder / "sites.parquet"), pd.read_parquet(folder / "weather.parquet"), model)
