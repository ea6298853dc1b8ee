"""The weather scenarios of predictions and the day they are for: BAAC `atm` codes and their labels,
the forecast scenario, the check that a model saw a scenario's weather, and tomorrow in a time zone.
Standard library only: the API's parameters, the CLI's printing and the Dagster schedules and sensors
use them without loading the scoring code (pipeline.gold.predictions)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pipeline.core.errors import AccidentsError

HOURS = 24
# BAAC `atm` codes. 1, 2, 3 and 5 are the scenarios offered in the notebook.
ATM_LABELS = {
    1: "Normale",
    2: "Pluie légère",
    3: "Pluie forte",
    4: "Neige - grêle",
    5: "Brouillard - fumée",
    6: "Vent fort - tempête",
    7: "Temps éblouissant",
    8: "Temps couvert",
    9: "Autre",
}
WEATHER_SCENARIOS = {"Normal": 1, "Pluie légère": 2, "Pluie forte": 3, "Brouillard": 5}
FORECAST = 0  # gold.predictions.atm of the forecast scenario (each point-hour has its own forecast code)
SCENARIO_LABELS = {FORECAST: "Prévision météo (par heure et station)", **ATM_LABELS}


def validate_atm(atm: object) -> int:
    """A BAAC weather code 1..9, or AccidentsError naming the parameter."""
    try:
        code = int(atm)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        code = None
    if code is None or code not in ATM_LABELS or str(atm).strip() != str(code):
        known = ", ".join(f"{k}={v}" for k, v in ATM_LABELS.items())
        raise AccidentsError(f"atm={atm!r}: unknown weather code (expected one of {known})")
    return code


def scenario_code(value: object) -> int:
    """`forecast` -> FORECAST, else a validated BAAC code (the `--atm` of predict and map)."""
    return FORECAST if str(value).strip() == "forecast" else validate_atm(value)


def ensure_known_scenario(model, atm: int) -> None:
    """A scenario whose weather the model never saw in training is refused (it would be extrapolated)."""
    if atm != FORECAST and atm not in model.weather_codes:
        seen = ", ".join(f"{c} ({ATM_LABELS[c]})" for c in model.weather_codes if c in ATM_LABELS)
        raise AccidentsError(f"atm={atm} ({ATM_LABELS[atm]}): the model never saw this weather in its training years "
                             f"{list(getattr(model, 'train_years', []))}, so it publishes no scenario for it "
                             f"(weathers it can score: {seen})")


def tomorrow_in(tz: str, *, now: dt.datetime | None = None) -> dt.date:
    """Tomorrow's date in the given time zone (the island's day, not the server's)."""
    current = now.astimezone(ZoneInfo(tz)) if now else dt.datetime.now(ZoneInfo(tz))
    return current.date() + dt.timedelta(days=1)


def scenarios_of(weather_codes) -> dict[str, int]:
    """The named scenarios (WEATHER_SCENARIOS) of these weathers (a model's: those it saw in training)."""
    return {label: code for label, code in WEATHER_SCENARIOS.items() if code in weather_codes}
