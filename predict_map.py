import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Risque d'accident")


@app.cell
def _():
    import datetime as dt
    import tempfile
    from pathlib import Path

    import marimo as mo

    from pipeline.core.errors import AccidentsError
    from pipeline.core.settings import Settings
    from pipeline.gold.params import MapParams
    from pipeline.serving.risk_map import select_markers
    from pipeline.usecases.maps import draw_map
    from pipeline.usecases.predictions import (
        champion_scenarios, ensure_predictions, latest_predicted_date, tomorrow,
    )
    return (
        AccidentsError, MapParams, Path, Settings, champion_scenarios, draw_map, dt, ensure_predictions,
        latest_predicted_date, mo, select_markers, tempfile, tomorrow,
    )


@app.cell
def _(AccidentsError, Settings, champion_scenarios, latest_predicted_date, tomorrow):
    # The notebook is an entry point like the CLI: it reads ACCIDENTS_* from the environment once.
    settings = Settings.from_env()
    try:
        default_day = latest_predicted_date(settings) or tomorrow(settings)
    except AccidentsError:
        default_day = tomorrow(settings)
    # only the weathers the champion saw in training: it refuses to extrapolate to the others
    scenarios = champion_scenarios(settings)
    return default_day, scenarios, settings


@app.cell
def _(default_day, mo, scenarios):
    day_picker = mo.ui.date(value=default_day, label="Date")
    weather = mo.ui.dropdown(options=scenarios, value="Normal", label="Météo")
    mode = mo.ui.radio(options={"Top N par heure": "top_n", "Seuil (centile)": "threshold"},
                       value="Top N par heure", label="Affichage", inline=True)
    top_n = mo.ui.slider(1, 10, step=1, value=3, label="N", show_value=True)
    threshold = mo.ui.slider(50, 99.5, step=0.5, value=90, label="Centile", show_value=True)
    mo.hstack([day_picker, weather, mode, top_n, threshold], justify="start", gap=1.5, wrap=True)
    return day_picker, mode, threshold, top_n, weather


@app.cell
def _(AccidentsError, day_picker, ensure_predictions, mo, settings, weather):
    atm = weather.value
    try:
        predictions, note = ensure_predictions(settings, day_picker.value, atm)
        error = None
    except AccidentsError as exc:
        predictions, note, error = None, "", str(exc)
    mo.stop(error is not None, mo.callout(mo.md(f"**Pas de prédictions** : {error}"), kind="warn"))
    mo.md(f"{note} · {day_picker.value.isoformat()} · atm={atm}")
    return atm, predictions


@app.cell
def _(MapParams, Path, atm, day_picker, draw_map, mo, mode, predictions, settings, tempfile, threshold, top_n):
    _params = MapParams(atm=str(atm), top_n=top_n.value,
                        threshold=float(threshold.value) if mode.value == "threshold" else None)
    with tempfile.TemporaryDirectory() as _tmp:
        _path, _ = draw_map(settings, _params, day_picker.value, out=Path(_tmp) / "map.html")
        map_html = _path.read_text(encoding="utf-8")
    mo.iframe(map_html, height="640px")
    return (map_html,)


@app.cell
def _(mo, mode, predictions, select_markers, threshold, top_n):
    shown = select_markers(predictions, mode=mode.value, top_n=top_n.value,
                           threshold_percentile=threshold.value)
    hourly = (
        predictions.groupby("hour")
        .agg(expected_accidents=("expected_accidents", "sum"), max_probability=("probability", "max"))
        .reset_index()
    )
    hourly["hour"] = hourly["hour"].map(lambda h: f"{h:02d}:00")
    columns = ["hour", "point_id", "com", "road_type", "speed_limit", "expected_accidents", "probability",
               "risk_index", "rank_in_hour", "risk_class"]
    mo.vstack([
        mo.md(f"### Points affichés ({len(shown)})"),
        mo.ui.table(shown[columns].reset_index(drop=True), selection=None, page_size=10),
        mo.md("### Par heure"),
        mo.ui.table(hourly, selection=None, page_size=24),
    ])
    return hourly, shown


if __name__ == "__main__":
    app.run()
