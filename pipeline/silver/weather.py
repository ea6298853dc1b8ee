"""Stage: an hourly weather source -> silver.weather_hourly (replaced atomically).

`--weather` values: `demo` (the demo generator's realised weather of the ingested demo files),
`open-meteo` (station archive, cached), a folder of station CSV files (or a demo_truth folder),
`none` (no weather history: the lake's weather table is dropped and features fall back to the
accidents' weather distribution), or `auto`: demo for a demo lake, else the lake's existing table,
else open-meteo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, committed, replace_department_table, table_exists
from pipeline.core.weather import WEATHER_COLUMNS
from pipeline.sources import weather as sources

if TYPE_CHECKING:
    import duckdb

    from pipeline.core.settings import Settings

WEATHER_CHOICES = ("auto", "demo", "open-meteo", "none")


@dataclass(frozen=True)
class WeatherSummary:
    source: str
    rows: int
    stations: int
    first_hour: str
    last_hour: str
    atm_shares: dict[int, float]


def _ingest_log(con) -> list[tuple[str, str, int, str, int]]:
    """(source, source_file, year, kind, rows_read) of every file ingested for the connection's département."""
    if not table_exists(con, "bronze.ingest_log"):
        return []
    return con.execute("SELECT source, source_file, year, kind, rows_read FROM bronze.ingest_log "
                       f"WHERE dep = {DEP}").fetchall()


def _data_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip()) - 1  # minus the header


def demo_truth_folder(con, settings: Settings) -> Path:
    """The demo_truth folder of the demo files this lake was ingested from: the generated folder
    whose caracteristiques files have the row counts bronze.ingest_log recorded."""
    log = _ingest_log(con)
    if {row[0] for row in log} != {"demo"}:
        raise AccidentsError("--weather demo: the lake was not ingested from the demo only "
                             "(run `accidents ingest --source demo` first)")
    wanted = {(row[1], row[4]) for row in log if row[3] == "caracteristiques"}  # (file name, rows)
    matches = []
    for truth in sorted(settings.demo_dir.glob("*/demo_truth")):
        files = {name: truth.parent / name for name, _ in wanted}
        if all(path.is_file() for path in files.values()) and \
                all(_data_rows(files[name]) == rows for name, rows in wanted):
            matches.append(truth)
    if len(matches) != 1:
        raise AccidentsError(f"--weather demo: {len(matches)} demo folders under {settings.demo_dir} match the "
                             "ingested files; pass --weather DEMO_FOLDER/demo_truth")
    return matches[0]


def _is_demo_truth(folder: Path) -> bool:
    return (folder / "weather.parquet").is_file() and (folder / "model.json").is_file()


def resolve_weather_source(spec: str, con, settings: Settings):
    """The source object for a `--weather` value (None for `none`; "keep" when `auto` keeps the
    lake's table). A folder holding a demo truth (weather.parquet, model.json) is read as the demo's."""
    if spec == "none":
        return None
    if spec == "demo":
        return sources.DemoWeather(demo_truth_folder(con, settings))
    if spec == "open-meteo":
        return sources.OpenMeteoArchive(settings.weather_archive_api, settings.cache_dir / "open-meteo",
                                        department=settings.department)
    if spec != "auto":
        folder = Path(spec)
        return sources.DemoWeather(folder) if _is_demo_truth(folder) else sources.WeatherCsvFolder(folder)
    log = _ingest_log(con)
    if log and {row[0] for row in log} == {"demo"}:
        return sources.DemoWeather(demo_truth_folder(con, settings))
    if table_exists(con, "silver.weather_hourly") and \
            con.execute(f"SELECT count(*) FROM silver.weather_hourly WHERE dep = {DEP}").fetchone()[0]:
        return "keep"
    return sources.OpenMeteoArchive(settings.weather_archive_api, settings.cache_dir / "open-meteo",
                                        department=settings.department)


def lake_years(con) -> list[int]:
    if not table_exists(con, "bronze.accidents"):
        raise AccidentsError("bronze.accidents does not exist: run `accidents ingest` first")
    rows = con.execute("SELECT DISTINCT year(event_time) FROM bronze.accidents "
                       f"WHERE event_time IS NOT NULL AND dep = {DEP} ORDER BY 1").fetchall()
    return [int(r[0]) for r in rows]


def summarize_weather(con) -> WeatherSummary:
    row = con.execute("SELECT any_value(source), count(*), count(DISTINCT station_id), min(hour), max(hour) "
                      f"FROM silver.weather_hourly WHERE dep = {DEP}").fetchone()
    shares = dict(con.execute("SELECT atm, count(*) / sum(count(*)) OVER () FROM silver.weather_hourly "
                              f"WHERE dep = {DEP} GROUP BY atm ORDER BY atm").fetchall())
    return WeatherSummary(str(row[0]), int(row[1]), int(row[2]), str(row[3]), str(row[4]),
                          {int(k): round(float(v), 4) for k, v in shares.items()})


def build_weather_hourly(con: duckdb.DuckDBPyConnection, source, years) -> WeatherSummary:
    """Write silver.weather_hourly from `source` (an object with `hourly(years)`) for `years`."""
    frame = source.hourly(list(years))
    if frame.empty:
        raise AccidentsError(f"weather source {source.label}: no hourly record for {sorted(years)}")
    frame = frame.sort_values(["station_id", "hour"], kind="stable").reset_index(drop=True)
    select = ", ".join(f'"{c}"::{t} AS "{c}"' for c, t in WEATHER_COLUMNS.items())
    con.register("weather_frame", frame)
    try:
        replace_department_table(con, "silver.weather_hourly", f"SELECT {select} FROM weather_frame")
    finally:
        con.unregister("weather_frame")
    return summarize_weather(con)


def drop_weather_hourly(con: duckdb.DuckDBPyConnection) -> None:
    """No weather history for the connection's département (the other départements keep theirs)."""
    if table_exists(con, "silver.weather_hourly"):
        committed(con, lambda: con.execute(f"DELETE FROM silver.weather_hourly WHERE dep = {DEP} OR dep IS NULL"))


def apply_weather_choice(con: duckdb.DuckDBPyConnection, spec: str, settings: Settings) -> WeatherSummary | None:
    """`--weather` as a use case: build (or keep) silver.weather_hourly from the chosen source for the
    lake's years, or drop it for `none` (returns None then)."""
    source = resolve_weather_source(spec, con, settings)
    if source is None:
        drop_weather_hourly(con)
        return None
    return summarize_weather(con) if source == "keep" else build_weather_hourly(con, source, lake_years(con))
