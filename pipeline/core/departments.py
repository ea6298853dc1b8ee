"""Département profiles: everything a stage needs to know about the place it works on.

Each of the French départements known to the BAAC files has coordinate bounds (rejecting misplaced
rows, the road grid), a time zone (hours of accidents and predictions, the daily schedule), a metric
CRS (distances), a public-holiday calendar (`holidays` country/subdivision + local fixed days), a
school-holiday table where one is shipped, and a main city (the `dist_to_main_city_km` feature).
Every stage, the Dagster partitions and schedule, the map and the notebook read them from here.

Metropolitan départements share one bounding box and Lambert-93; overseas ones have their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.errors import AccidentsError


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
    main_city_name: str = ""
    holiday_country: str = "FR"  # `holidays` country code
    holiday_subdivision: str | None = None
    local_holidays: tuple[tuple[int, int], ...] = ()  # (month, day) always added
    school_holidays_file: str | None = None  # CSV under pipeline/core/data; None: no table shipped

    @property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((south, west), (north, east)) for maps."""
        return (self.lat_min, self.lon_min), (self.lat_max, self.lon_max)

    def contains(self, lat: float, lon: float) -> bool:
        return self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max


_METRO_BOUNDS = (41.0, 51.6, -5.6, 10.0)
_OVERSEAS = {
    "971": ("Guadeloupe", (15.8, 16.6, -61.9, -61.0), "America/Guadeloupe", "EPSG:5490", (16.24, -61.53)),
    "972": ("Martinique", (14.3, 14.9, -61.3, -60.8), "America/Martinique", "EPSG:5490", (14.61, -61.07)),
    "973": ("Guyane", (2.1, 5.8, -54.7, -51.6), "America/Cayenne", "EPSG:2972", (4.94, -52.33)),
    "974": ("La Réunion", (-21.4, -20.8, 55.2, 55.9), "Indian/Reunion", "EPSG:2975", (-20.8823, 55.4504)),
    "975": ("Saint-Pierre-et-Miquelon", (46.7, 47.2, -56.5, -56.1), "America/Miquelon", "EPSG:4467", (46.78, -56.18)),
    "976": ("Mayotte", (-13.1, -12.6, 44.9, 45.4), "Indian/Mayotte", "EPSG:4471", (-12.78, 45.23)),
    "977": ("Saint-Barthélemy", (17.8, 18.0, -63.0, -62.7), "America/St_Barthelemy", "EPSG:5490", (17.90, -62.85)),
    "978": ("Saint-Martin", (18.0, 18.2, -63.2, -62.9), "America/Marigot", "EPSG:5490", (18.07, -63.08)),
    "986": ("Wallis-et-Futuna", (-14.4, -13.1, -178.3, -176.0), "Pacific/Wallis", "EPSG:8903", (-13.28, -176.17)),
    "987": ("Polynésie française", (-28.0, -7.8, -155.0, -134.0), "Pacific/Tahiti", "EPSG:3297", (-17.54, -149.57)),
    "988": ("Nouvelle-Calédonie", (-23.0, -19.5, 163.5, 168.0), "Pacific/Noumea", "EPSG:3163", (-22.2758, 166.4580)),
}
_METRO_CODES = [f"{i:02d}" for i in range(1, 96) if i != 20] + ["2A", "2B"]


# Main city names, holiday calendars and school-holiday tables of the profiles the project supports
# end to end; other codes get the département's own `holidays` subdivision where the library has one.
_CITY_NAMES = {"988": "Nouméa", "974": "Saint-Denis", "987": "Papeete", "973": "Cayenne", "976": "Mamoudzou",
               "971": "Basse-Terre", "972": "Fort-de-France"}
_HOLIDAYS = {"988": ("NC", None), "987": ("PF", None), "986": ("WF", None), "975": ("PM", None),
             "977": ("BL", None), "978": ("MF", None)}
_HOLIDAY_SUBDIVISIONS = ("971", "972", "973", "974", "976", "57")
# Fête de la citoyenneté (24 September) is a public holiday in New Caledonia; added explicitly in case
# the installed `holidays` release does not know it.
_LOCAL_HOLIDAYS = {"988": ((9, 24), (7, 14))}
_SCHOOL_HOLIDAYS = {"988": "school_holidays_nc.csv"}


def _build() -> dict[str, Department]:
    raw = {code: (f"Département {code}", _METRO_BOUNDS, "Europe/Paris", "EPSG:2154", (48.8566, 2.3522))
           for code in _METRO_CODES}
    raw.update(_OVERSEAS)
    deps = {}
    for code, (name, (lat_min, lat_max, lon_min, lon_max), tz, crs, city) in raw.items():
        country, subdivision = _HOLIDAYS.get(code, ("FR", code if code in _HOLIDAY_SUBDIVISIONS else None))
        deps[code] = Department(
            code, name, lat_min, lat_max, lon_min, lon_max, tz, crs, city,
            main_city_name=_CITY_NAMES.get(code, "Paris" if raw[code][2] == "Europe/Paris" else ""),
            holiday_country=country, holiday_subdivision=subdivision,
            local_holidays=_LOCAL_HOLIDAYS.get(code, ()), school_holidays_file=_SCHOOL_HOLIDAYS.get(code),
        )
    return deps


DEPARTMENTS: dict[str, Department] = _build()
NEW_CALEDONIA = DEPARTMENTS["988"]


def department(code: str) -> Department:
    """The profile of `code`; an unknown code is a one-line error."""
    key = str(code).strip().upper()
    if key not in DEPARTMENTS:
        raise AccidentsError(f"département {code!r}: unknown (expected a French département code such as 988 or 974)")
    return DEPARTMENTS[key]
