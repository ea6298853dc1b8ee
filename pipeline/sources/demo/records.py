"""Turn sampled accidents of one year into the four BAAC tables (as text columns), adding the rows
of metropolitan départements that the national files interleave, and a few deliberate defects.

Codes follow the BAAC data dictionary; their distributions are plausible, not calibrated (except
atm, lum, agg, com, which follow from the intensity model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.sources.demo import calendar as cal
from pipeline.sources.demo.model import lookup
from pipeline.sources.demo.writer import (
    choice, concat, const, fmt_decimal, fmt_int, fmt_thousands_nbsp, fmt_zero_pad, where,
)

FOREIGN_SHARE = 0.03  # rows of other départements, as in the national files
DEFECT_SHARE = 0.01  # 988 rows damaged on purpose so the ingester has something to reject
DEFECT_KINDS = ("missing_coordinates", "outside_bounds", "bad_hrmn")
FIRST_VEHICLE_ID = 100_000

# Metropolitan départements: (dep, com, lat, lon, street).
METRO = (
    ("13", "13055", 43.2965, 5.3698, "Boulevard de la Libération"),
    ("75", "75056", 48.8566, 2.3522, "Rue de Rivoli"),
    ("69", "69123", 45.7640, 4.8357, "Quai Perrache"),
    ("33", "33063", 44.8378, -0.5792, "Cours de l'Intendance"),
    ("59", "59350", 50.6292, 3.0573, "Rue Nationale"),
    ("29", "29019", 48.3904, -4.4861, "Rue de Siam"),
)
CATR_BY_HIGHWAY = {"trunk": 9, "primary": 3, "secondary": 3, "tertiary": 4, "residential": 4, "unclassified": 4}
CATV = np.array([7, 10, 33, 2, 1, 13, 31, 50])
CATV_P = np.array([0.56, 0.17, 0.10, 0.06, 0.03, 0.03, 0.03, 0.02])


@dataclass(frozen=True)
class Defect:
    year: int
    accident_id: str
    kind: str


@dataclass
class YearTables:
    columns: dict[str, dict]  # table -> column -> arrow text array
    n_nc: int
    n_foreign: int
    defects: list[Defect]
    n_vehicles: int
    n_users: int


def _pick(rng, values, p, n) -> np.ndarray:
    return np.asarray(values)[rng.choice(len(values), size=n, p=np.asarray(p) / np.sum(p))]


def lum_codes(hours_frac: np.ndarray, month: np.ndarray, urban: np.ndarray, near_centre: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """1 day, 2 dusk/dawn, 3 night unlit, 4 night lighting off, 5 night lit."""
    sunrise, sunset = cal.sunrise_sunset(month)
    twilight = (np.abs(hours_frac - sunrise) < 0.35) | (np.abs(hours_frac - sunset) < 0.35)
    day = (hours_frac >= sunrise + 0.35) & (hours_frac <= sunset - 0.35)
    lit = urban | (near_centre & (rng.random(len(urban)) < 0.15))
    night = np.where(lit, 5, 3)
    night = np.where(lit & (rng.random(len(urban)) < 0.05), 4, night)
    return np.select([day, twilight], [1, 2], default=night)


def build_year(year: int, acc: pd.DataFrame, rng: np.random.Generator) -> YearTables:
    """`acc`: one row per New Caledonia accident with event_time, lat, lon, atm, com, urban,
    near_centre, speed_limit, highway, oneway, lanes, adr, voie (sorted arbitrarily)."""
    n_nc = len(acc)
    n_foreign = int(rng.binomial(max(n_nc, 1), FOREIGN_SHARE / (1 - FOREIGN_SHARE)))
    foreign = _foreign_accidents(year, n_foreign, rng)
    nc = acc.assign(dep="988", lum=lum_codes(
        acc["event_time"].dt.hour.to_numpy() + acc["event_time"].dt.minute.to_numpy() / 60,
        acc["event_time"].dt.month.to_numpy(), acc["urban"].to_numpy(), acc["near_centre"].to_numpy(), rng))
    rows = pd.concat([nc, foreign], ignore_index=True)
    n = len(rows)
    # National numbering: ids spread over the year's range, 988 rows scattered among the others.
    id_range = max(57_000, int(n * 1.05))
    numbers = np.sort(rng.choice(id_range, size=n, replace=False) + 1)
    rows["num"] = numbers[rng.permutation(n)]
    rows = rows.sort_values("num", kind="stable").reset_index(drop=True)
    acc_id = fmt_int(np.int64(year) * 10**8 + rows["num"].to_numpy())
    defects, cara = _caracteristiques(year, rows, acc_id, rng)
    lieux = _lieux(rows, acc_id, rng)
    veh_cols, usr_cols, n_veh, n_usr = _vehicles_and_users(year, rows, acc_id, rng)
    return YearTables({"caracteristiques": cara, "lieux": lieux, "vehicules": veh_cols, "usagers": usr_cols},
                      n_nc, n_foreign, defects, n_veh, n_usr)


def _foreign_accidents(year: int, n: int, rng: np.random.Generator) -> pd.DataFrame:
    k = rng.integers(0, len(METRO), n)
    minutes = rng.integers(0, 365 * 24 * 60, n)
    times = pd.Timestamp(f"{year}-01-01") + pd.to_timedelta(minutes, "min")
    times = times.where(times.year == year, pd.Timestamp(f"{year}-12-31 12:00"))
    return pd.DataFrame({
        "event_time": times,
        "lat": np.array([m[2] for m in METRO])[k] + rng.normal(0, 0.03, n),
        "lon": np.array([m[3] for m in METRO])[k] + rng.normal(0, 0.03, n),
        "atm": _pick(rng, [1, 2, 3, 5, 8], [0.8, 0.1, 0.03, 0.02, 0.05], n),
        "com": np.array([m[1] for m in METRO])[k],
        "dep": np.array([m[0] for m in METRO])[k],
        "urban": rng.random(n) < 0.7,
        "near_centre": np.ones(n, bool),
        "speed_limit": _pick(rng, [30, 50, 80, 110], [0.15, 0.55, 0.2, 0.1], n),
        "highway": _pick(rng, ["residential", "tertiary", "secondary", "primary"], [0.4, 0.3, 0.2, 0.1], n),
        "oneway": rng.random(n) < 0.2,
        "lanes": np.full(n, 2),
        "adr": np.array([m[4] for m in METRO])[k],
        "voie": np.array([m[4] for m in METRO])[k],
        "lum": _pick(rng, [1, 2, 3, 5], [0.65, 0.07, 0.08, 0.2], n),
    })


def _caracteristiques(year: int, rows: pd.DataFrame, acc_id: np.ndarray, rng: np.random.Generator):
    n = len(rows)
    t = rows["event_time"]
    hour, minute = t.dt.hour.to_numpy(), t.dt.minute.to_numpy()
    urban = rows["urban"].to_numpy()
    single = rng.random(n) < 0.35
    col = np.where(single, _pick(rng, [6, 7], [0.8, 0.2], n), _pick(rng, [1, 2, 3, 4, 5], [3, 3, 4, 1, 2], n))
    inter = np.where(urban, _pick(rng, [1, 2, 3, 4, 6], [0.55, 0.2, 0.18, 0.02, 0.05], n), 1)
    # Deliberate defects, on New Caledonia rows only, one of each kind at least when there are enough rows.
    nc_pos = np.flatnonzero(rows["dep"].to_numpy() == "988")
    n_def = int(rng.binomial(len(nc_pos), 0.01)) if len(nc_pos) else 0
    n_def = min(len(nc_pos), max(n_def, len(DEFECT_KINDS) if len(nc_pos) >= 100 else n_def))
    pos = np.sort(rng.choice(nc_pos, size=n_def, replace=False)) if n_def else np.array([], int)
    kinds = np.array(DEFECT_KINDS)[np.arange(n_def) % len(DEFECT_KINDS)][rng.permutation(n_def)]
    lat_v = np.round(rows["lat"].to_numpy(), 6)  # official: 6 decimals padded to 10 (" -22,2239590000")
    lon_v = np.round(rows["lon"].to_numpy(), 6)
    miss = pos[kinds == "missing_coordinates"]
    lat_v[miss], lon_v[miss] = np.nan, np.nan
    out = pos[kinds == "outside_bounds"]
    lat_v[out] = np.round(rng.uniform(-18.9, -18.0, len(out)), 6)  # north of Bélep, in the sea
    lon_v[out] = np.round(rng.uniform(161.0, 162.5, len(out)), 6)
    bad_hrmn = np.zeros(n, bool)
    bad_hrmn[pos[kinds == "bad_hrmn"]] = True
    hrmn = where(bad_hrmn, "25:99", concat(fmt_zero_pad(hour, 2), ":", fmt_zero_pad(minute, 2)))
    ids = acc_id.take(pa.array(pos)).to_pylist() if n_def else []
    defects = [Defect(year, i, k) for i, k in zip(ids, kinds.tolist(), strict=True)]
    cols = {
        "Num_Acc": acc_id,
        "jour": fmt_int(t.dt.day.to_numpy()),
        "mois": fmt_zero_pad(t.dt.month.to_numpy(), 2),
        "an": const(str(year), n),
        "hrmn": hrmn,
        "lum": fmt_int(rows["lum"].to_numpy()),
        "dep": rows["dep"].to_numpy(),
        "com": rows["com"].to_numpy(),
        "agg": where(urban, "2", "1"),
        "int": fmt_int(inter),
        "atm": fmt_int(rows["atm"].to_numpy()),
        "col": fmt_int(col),
        "adr": rows["adr"].to_numpy(),
        "lat": fmt_decimal(lat_v, 10),
        "long": fmt_decimal(lon_v, 10),
    }
    return defects, cols


def _missing(rng, n, value_text, p_missing: float, token: str):
    return where(rng.random(n) < p_missing, token, value_text)


def _lieux(rows: pd.DataFrame, acc_id: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(rows)
    highway = rows["highway"].to_numpy().astype(str)
    catr = lookup(CATR_BY_HIGHWAY, highway) if n else np.array([], int)
    oneway = rows["oneway"].to_numpy().astype(bool)
    lanes = np.where(oneway, 1, np.where(highway == "trunk", 4, 2))
    atm = rows["atm"].to_numpy()
    surf = np.where(np.isin(atm, [cal.ATM_LIGHT_RAIN, cal.ATM_HEAVY_RAIN]), 2, 1)
    surf = np.where(rng.random(n) < 0.02, -1, surf)
    road = np.isin(highway, ["trunk", "primary", "secondary"])
    pr = where(road, fmt_int(rng.integers(0, 120, n)), "(1)")
    pr1 = where(road, fmt_int(rng.integers(0, 1000, n)), "(1)")
    width = fmt_decimal(_pick(rng, [5.0, 5.5, 6.0, 6.5, 7.0, 9.0], [1, 2, 3, 2, 2, 1], n), 1)
    return {
        "Num_Acc": acc_id,
        "catr": fmt_int(catr),
        "voie": rows["voie"].to_numpy(),
        "v1": _missing(rng, n, const("0", n), 0.7, " -1"),
        "v2": _missing(rng, n, const("", n), 0.8, "N/A"),
        "circ": where(oneway, "1", "2"),
        "nbv": _missing(rng, n, fmt_int(lanes), 0.03, " -1"),
        "vosp": const("0", n),
        "prof": fmt_int(_pick(rng, [1, 2, 3, 4], [0.8, 0.15, 0.03, 0.02], n)),
        "pr": _missing(rng, n, pr, 0.1, " -1"),
        "pr1": _missing(rng, n, pr1, 0.1, " -1"),
        "plan": fmt_int(np.where(road, _pick(rng, [1, 2, 3, 4], [0.6, 0.17, 0.17, 0.06], n), 1)),
        "lartpc": const("", n),
        "larrout": _missing(rng, n, width, 0.5, " -1"),
        "surf": fmt_int(surf),
        "infra": fmt_int(_pick(rng, [0, 2, 5, 9], [0.9, 0.03, 0.05, 0.02], n)),
        "situ": fmt_int(_pick(rng, [1, 3, 4, 6], [0.9, 0.06, 0.02, 0.02], n)),
        "vma": fmt_int(rows["speed_limit"].to_numpy()),
    }


def _vehicles_and_users(year: int, rows: pd.DataFrame, acc_id: np.ndarray, rng: np.random.Generator):
    n = len(rows)
    n_veh = _pick(rng, [1, 2, 3], [0.38, 0.5, 0.12], n)
    veh_acc = np.repeat(np.arange(n), n_veh)
    veh_rank = np.arange(len(veh_acc)) - np.repeat(np.cumsum(n_veh) - n_veh, n_veh)
    nv = len(veh_acc)
    veh_number = FIRST_VEHICLE_ID + (year % 10) * 1_000 + np.arange(nv)
    id_veh = fmt_thousands_nbsp(veh_number)
    num_veh = choice(["A01", "B01", "C01"], veh_rank)
    catv = _pick(rng, CATV, CATV_P, nv)
    multi = n_veh[veh_acc] > 1
    vehicles = {
        "Num_Acc": acc_id.take(pa.array(veh_acc)), "id_vehicule": id_veh, "num_veh": num_veh,
        "senc": fmt_int(_pick(rng, [0, 1, 2, -1], [0.5, 0.25, 0.23, 0.02], nv)),
        "catv": fmt_int(catv),
        "obs": fmt_int(np.where(multi, 0, _pick(rng, [0, 1, 2, 4, 6, 13], [0.4, 0.15, 0.1, 0.15, 0.1, 0.1], nv))),
        "obsm": fmt_int(np.where(multi, 2, _pick(rng, [0, 1, 4], [0.7, 0.25, 0.05], nv))),
        "choc": fmt_int(rng.integers(1, 10, nv)),
        "manv": fmt_int(_pick(rng, [1, 2, 13, 15, 17, 23, 26], [0.45, 0.2, 0.1, 0.08, 0.07, 0.05, 0.05], nv)),
        "motor": fmt_int(_pick(rng, [1, 3, 2, -1], [0.9, 0.04, 0.02, 0.04], nv)),
        "occutc": const("", nv),
    }
    n_usr = _pick(rng, [1, 2, 3, 4], [0.62, 0.24, 0.10, 0.04], nv)
    usr_veh = np.repeat(np.arange(nv), n_usr)
    usr_rank = np.arange(len(usr_veh)) - np.repeat(np.cumsum(n_usr) - n_usr, n_usr)
    nu = len(usr_veh)
    driver = usr_rank == 0
    age = np.where(driver, rng.integers(17, 80, nu), rng.integers(1, 85, nu))
    two_wheeler = np.isin(catv[usr_veh], [1, 2, 33, 31, 50])
    users = {
        "Num_Acc": acc_id.take(pa.array(veh_acc[usr_veh])), "id_vehicule": id_veh.take(pa.array(usr_veh)),
        "num_veh": num_veh.take(pa.array(usr_veh)),
        "place": fmt_int(np.where(driver, 1, np.minimum(usr_rank + 1, 9))),
        "catu": where(driver, "1", "2"),
        "grav": fmt_int(_pick(rng, [1, 2, 3, 4], [0.42, 0.05, 0.18, 0.35], nu)),
        "sexe": fmt_int(_pick(rng, [1, 2], [0.68, 0.32], nu)),
        "an_nais": fmt_int(year - age),
        "trajet": fmt_int(np.where(driver, _pick(rng, [0, 1, 2, 4, 5, 9, -1], [2, 2, 1, 1, 4, 1, 1], nu), 0)),
        "secu1": fmt_int(np.where(two_wheeler, 2, _pick(rng, [1, 0, 8], [0.8, 0.15, 0.05], nu))),
        "secu2": _missing(rng, nu, const("0", nu), 0.8, " -1"),
        "secu3": const(" -1", nu),
        "locp": fmt_int(np.where(rng.random(nu) < 0.5, 0, -1)),
        "actp": where(rng.random(nu) < 0.5, "0", " -1"),
        "etatp": const(" -1", nu),
    }
    return vehicles, users, nv, nu
