"""French départements known to the BAAC files, with what the pipeline needs to know about each:
coordinate bounds (for rejecting misplaced rows), time zone, a metric CRS and the main city.

Metropolitan départements share one bounding box and Lambert-93; overseas ones have their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    timezone: str
    metric_crs: str
    main_city: tuple[float, float]  # (lat, lon)

    def contains(self, lat: float, lon: float) -> bool:
        return self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max


_METRO_BOUNDS = (41.0, 51.6, -5.6, 10.0)
_OVERSEAS = {
    "971": ("Guadeloupe", (15.8, 16.6, -61.9, -61.0), "America/Guadeloupe", "EPSG:5490", (16.24, -61.53)),
    "972": ("Martinique", (14.3, 14.9, -61.3, -60.8), "America/Martinique", "EPSG:5490", (14.61, -61.07)),
    "973": ("Guyane", (2.1, 5.8, -54.7, -51.6), "America/Cayenne", "EPSG:2972", (4.94, -52.33)),
    "974": ("La Réunion", (-21.4, -20.8, 55.2, 55.9), "Indian/Reunion", "EPSG:2975", (-20.88, 55.45)),
    "975": ("Saint-Pierre-et-Miquelon", (46.7, 47.2, -56.5, -56.1), "America/Miquelon", "EPSG:4467", (46.78, -56.18)),
    "976": ("Mayotte", (-13.1, -12.6, 44.9, 45.4), "Indian/Mayotte", "EPSG:4471", (-12.78, 45.23)),
    "977": ("Saint-Barthélemy", (17.8, 18.0, -63.0, -62.7), "America/St_Barthelemy", "EPSG:5490", (17.90, -62.85)),
    "978": ("Saint-Martin", (18.0, 18.2, -63.2, -62.9), "America/Marigot", "EPSG:5490", (18.07, -63.08)),
    "986": ("Wallis-et-Futuna", (-14.4, -13.1, -178.3, -176.0), "Pacific/Wallis", "EPSG:8903", (-13.28, -176.17)),
    "987": ("Polynésie française", (-28.0, -7.8, -155.0, -134.0), "Pacific/Tahiti", "EPSG:3297", (-17.54, -149.57)),
    "988": ("Nouvelle-Calédonie", (-23.0, -19.5, 163.5, 168.0), "Pacific/Noumea", "EPSG:3163", (-22.2758, 166.4580)),
}
_METRO_CODES = [f"{i:02d}" for i in range(1, 96) if i != 20] + ["2A", "2B"]


def _build() -> dict[str, Department]:
    deps = {
        code: Department(code, f"Département {code}", *_METRO_BOUNDS, "Europe/Paris", "EPSG:2154", (48.8566, 2.3522))
        for code in _METRO_CODES
    }
    for code, (name, bounds, tz, crs, city) in _OVERSEAS.items():
        deps[code] = Department(code, name, *bounds, tz, crs, city)
    return deps


DEPARTMENTS: dict[str, Department] = _build()
NEW_CALEDONIA = DEPARTMENTS["988"]
