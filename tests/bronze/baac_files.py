"""Writes small BAAC-format files for tests, with the official format's quirks on demand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CARAC_HEADER = ["Num_Acc", "jour", "mois", "an", "hrmn", "lum", "dep", "com", "agg", "int", "atm", "col",
                "adr", "lat", "long"]
LIEUX_HEADER = ["Num_Acc", "catr", "voie", "v1", "v2", "circ", "nbv", "vosp", "prof", "pr", "pr1", "plan",
                "lartpc", "larrout", "surf", "infra", "situ", "vma"]
VEH_HEADER = ["Num_Acc", "id_vehicule", "num_veh", "senc", "catv", "obs", "obsm", "choc", "manv", "motor",
              "occutc"]
USAGERS_HEADER = ["Num_Acc", "id_vehicule", "num_veh", "place", "catu", "grav", "sexe", "an_nais", "trajet",
                  "secu1", "secu2", "secu3", "locp", "actp", "etatp"]


def coord(value: float) -> str:
    """Official style: decimal comma, leading space before negatives."""
    text = f"{value:.10f}".replace(".", ",")
    return f" {text}" if value < 0 else text


def line(fields: list[str]) -> str:
    return ";".join(f'"{f}"' for f in fields)


@dataclass
class Accident:
    acc_id: str
    day: int = 3
    month: int = 2
    hrmn: str = "07:45"
    dep: str = "988"
    com: str = "98818"
    lat: float | None = -22.27
    lon: float | None = 166.45
    adr: str = "Rue de Sébastopol"
    atm: str = "1"
    vma: str = "50"


def write_year(folder: Path, year: int, accidents: list[Accident], *, encoding: str = "utf-8",
               bom: bool = False, crlf: bool = False, id_header: str = "Num_Acc",
               carac_name: str | None = None) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    eol = "\r\n" if crlf else "\n"
    carac = [line([id_header, *CARAC_HEADER[1:]])]
    lieux, veh, usagers = [line(LIEUX_HEADER)], [line(VEH_HEADER)], [line(USAGERS_HEADER)]
    for i, a in enumerate(accidents):
        lat = "" if a.lat is None else coord(a.lat)
        lon = "" if a.lon is None else coord(a.lon)
        carac.append(line([a.acc_id, str(a.day), f"{a.month:02d}", str(year), a.hrmn, "1", a.dep, a.com, "2",
                           "1", a.atm, "3", a.adr, lat, lon]))
        lieux.append(line([a.acc_id, "3", "RT1", " -1", "N/A", "2", "2", "0", "1", "(1)", "", "1", "", " -1",
                           "1", "0", "1", a.vma]))
        vid = f"{100 + i}\u00a0{891 + i:03d}"
        veh.append(line([a.acc_id, vid, "A01", "1", "7", "0", "2", "1", "1", "1", ""]))
        usagers.append(line([a.acc_id, vid, "A01", "1", "1", "4", "1", "1990", "5", "1", " -1", " -1", "0",
                             "0", " -1"]))
    names = {
        "caracteristiques": carac_name or f"caracteristiques-{year}.csv",
        "lieux": f"lieux-{year}.csv", "vehicules": f"vehicules-{year}.csv", "usagers": f"usagers-{year}.csv",
    }
    paths = {}
    for kind, rows in (("caracteristiques", carac), ("lieux", lieux), ("vehicules", veh), ("usagers", usagers)):
        data = (eol.join(rows) + eol).encode(encoding)
        if bom:
            data = b"\xef\xbb\xbf" + data
        paths[kind] = folder / names[kind]
        paths[kind].write_bytes(data)
    return paths


def accidents_for(year: int, n: int, start: int = 1) -> list[Accident]:
    return [Accident(f"{year}{start + i:08d}", day=1 + i % 28, lat=-22.27 + i * 0.001, lon=166.45 + i * 0.001)
            for i in range(n)]
