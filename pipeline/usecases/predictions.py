"""Predict days: the champion (or a version) scores every road point x hour (the map: pipeline.usecases.maps)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, lake_connection, table_exists
from pipeline.core.settings import Settings
from pipeline.core.weather import ATM_NORMAL, WeatherHistory
from pipeline.gold import champion_cache, registry
from pipeline.gold.params import PredictParams
from pipeline.gold.prediction_check import check_normal_day
from pipeline.gold.predictions import predict_days, read_predictions
from pipeline.gold.scenarios import FORECAST, ensure_known_scenario, scenario_code, scenarios_of, tomorrow_in
from pipeline.sources.http import UnreachableError
from pipeline.sources.weather import OpenMeteoForecast

if TYPE_CHECKING:
    from pipeline.gold.predictions import PredictionSummary

MAX_BACKFILL_DAYS = 3660


def tomorrow(settings: Settings, *, now: dt.datetime | None = None) -> dt.date:
    """The next day in the département's time zone (the 23:00 schedule predicts it)."""
    return tomorrow_in(settings.department.timezone, now=now)


def day_span(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise AccidentsError(f"end {end} is before start {start}")
    n = (end - start).days + 1
    if n > MAX_BACKFILL_DAYS:
        raise AccidentsError(f"start/end span {n} days (at most {MAX_BACKFILL_DAYS})")
    return [start + dt.timedelta(days=i) for i in range(n)]


def load_model(settings: Settings, which: str = "champion", *, tracking_uri: str | None = None):
    """(model, registered model name, version) from the MLflow registry: the champion or a version; a
    version that may not be published (pipeline.gold.intensity.bundle.publishable) is refused."""
    uri, name = tracking_uri or settings.resolved_mlflow_uri, settings.registered_model
    if which == "champion":
        # the copy kept by the last run, while the SQLite store is unchanged: no MLflow start-up
        cache_dir = settings.cache_dir / "champion"
        cached = champion_cache.load_cached_champion(cache_dir, uri, name)
        if cached is not None:
            return cached[0], name, cached[1]
        stamp = champion_cache.store_stamp(uri)
        model, version, record = registry.load_champion(uri, name)
        champion_cache.save_champion(cache_dir, uri, name, model, str(version), record, stamp)
    else:
        if not str(which).isdigit():
            raise AccidentsError(f"model={which!r}: expected 'champion' or a version number")
        model, version, _ = registry.load_version(uri, name, str(which))
    return model, name, str(version)


def champion_scenarios(settings: Settings) -> dict[str, int]:
    """The weather scenarios the champion publishes (label -> BAAC code); only normal weather when no
    champion can be loaded (stored predictions can still be shown)."""
    try:
        model, _, _ = load_model(settings)
    except AccidentsError:
        return scenarios_of((ATM_NORMAL,))
    return scenarios_of(model.weather_codes)


def forecast_weather(settings: Settings, dates: list[dt.date]):
    """The stations' hourly forecast of `dates` as a WeatherHistory, or a one-line error saying that no
    forecast is reachable (the user then picks a scenario)."""
    client = OpenMeteoForecast(settings.weather_forecast_api, department=settings.department)
    try:
        frame = pd.concat([client.day(day) for day in dates], ignore_index=True)
    except UnreachableError as exc:
        raise AccidentsError(f"atm=forecast: no weather forecast reachable ({exc}); "
                             "choose a scenario code 1..9 instead") from None
    return WeatherHistory.from_frame(frame)


@dataclass(frozen=True)
class Prediction:
    summary: PredictionSummary
    checks: list  # DayCheck per judged day (normal weather, public holidays excepted)

    @property
    def failed_checks(self) -> list:
        return [c for c in self.checks if not c.passed]


def check_days(con, settings: Settings, summary: PredictionSummary) -> list:
    """The plausibility check of each predicted normal-weather day, public holidays excepted: its
    expected count against the same month and weekday of the training years."""
    checks = (check_normal_day(con, d.date, d.expected_accidents, settings.department.code) for d in summary.days)
    return [c for c in checks if c is not None]


def predict(settings: Settings, params: PredictParams, dates: list[dt.date], *,
            tracking_uri: str | None = None) -> Prediction:
    """Score every road point for every hour of `dates` and write gold.predictions (idempotent per
    date and weather scenario), then check each normal-weather day (see `check_days`)."""
    atm, weather = scenario_code(params.atm), None
    model, name, version = load_model(settings, params.model, tracking_uri=tracking_uri)
    if atm == FORECAST:
        weather = forecast_weather(settings, dates)
    else:
        ensure_known_scenario(model, atm)
    with lake_connection(settings) as con:
        summary = predict_days(con, model=model, model_name=name, model_version=version, dates=dates, atm=atm,
                               weather=weather)
        checks = check_days(con, settings, summary) if atm == 1 else []
    return Prediction(summary, checks)


def read_day(settings: Settings, day: dt.date, atm) -> pd.DataFrame:
    """The stored predictions of a day and scenario (a BAAC code, or 'forecast')."""
    with lake_connection(settings, read_only=True) as con:
        return read_predictions(con, day, scenario_code(atm))


def ensure_predictions(settings: Settings, day: dt.date, atm: int) -> tuple[pd.DataFrame, str]:
    """(predictions of day+atm, note): read them; when absent, score them with the champion first."""
    df = read_day(settings, day, atm)
    if not df.empty:
        return df, f"{len(df)} predictions read from gold.predictions"
    summary = predict(settings, PredictParams(atm=str(atm)), [day]).summary
    return read_day(settings, day, atm), (f"{summary.rows_written} predictions computed with "
                                          f"{summary.model_name} v{summary.model_version}")


def latest_predicted_date(settings: Settings, atm: int = 1) -> dt.date | None:
    """The most recent date already in gold.predictions for this scenario (None if none)."""
    with lake_connection(settings, read_only=True) as con:
        if not table_exists(con, "gold.predictions"):
            return None
        row = con.execute(f"SELECT max(date) FROM gold.predictions WHERE atm = ? AND dep = {DEP}", [atm]).fetchone()
    return row[0] if row else None
