"""Stage: an hourly weather source -> silver.weather_hourly (replaced atomically).

`--weather` values: `demo` (the demo generator's realised weather beside the ingested demo files),
`open-meteo` (station archive, cached), a folder of station CSV files, `none` (no weather history:
the lake's weather table is dropped and features fall back to the accidents' weather distribution),
or `auto`: demo for a demo lake, else the weather/ sub-folder of a folder source when present, else
the lake's existing table, else open-meteo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import AccidentsError
from pipeline.lake import replace_table, table_exists

if TYPE_CHECKING:
    import duckdb

    from pipeline.settings import Settings

WEATHER_CHOICES = ("auto", "demo", "open-meteo", "none")


@dataclass(frozen=True)
class WeatherSummary:
    source: str
    rows: int
    stations: int
    first_hour: str
    last_hour: str
    atm_shares: dict[int, float]


def _ingested_files(con) -> tuple[set[str], list[Path]]:
    rows = con.execute("SELECT DISTINCT source, source_file FROM bronze.ingest_log").fetchall()
    return {r[0] for r in rows}, [Path(r[1]) for r in rows if r[1]]


def demo_truth_folder(con) -> Path:
    """The demo_truth folder beside the demo files this lake was ingested from."""
    if not table_exists(con, "bronze.ingest_log"):
        raise AccidentsError("--weather demo: bronze.ingest_log is missing; run `accidents ingest --source demo`")
    sources, files = _ingested_files(con)
    if sources != {"demo"}:
        raise AccidentsError(f"--weather demo: the lake was ingested from {sorted(sources)}, not only the demo")
    folders = {f.parent / "demo_truth" for f in files}
    if len(folders) != 1 or not next(iter(folders)).is_dir():
        raise AccidentsError(f"--weather demo: expected one demo_truth folder beside the ingested files, "
                             f"found {sorted(map(str, folders))}")
    return next(iter(folders))


def resolve_weather_source(spec: str, con, settings: Settings):
    """The source object for a `--weather` value (None for `none`, or `auto` keeping the lake's table)."""
    from pipeline.sources import weather as sources

    if spec == "none":
        return None
    if spec == "demo":
        return sources.DemoWeather(demo_truth_folder(con))
    if spec == "open-meteo":
        return sources.OpenMeteoArchive(settings.weather_archive_api, settings.cache_dir / "open-meteo")
    if spec != "auto":
        return sources.WeatherCsvFolder(Path(spec))
    ingested, files = _ingested_files(con) if table_exists(con, "bronze.ingest_log") else (set(), [])
    if ingested == {"demo"}:
        return sources.DemoWeather(demo_truth_folder(con))
    folders = {f.parent / "weather" for f in files if (f.parent / "weather").is_dir()}
    if len(folders) == 1:
        return sources.WeatherCsvFolder(next(iter(folders)))
    if table_exists(con, "silver.weather_hourly"):
        return "keep"
    return sources.OpenMeteoArchive(settings.weather_archive_api, settings.cache_dir / "open-meteo")


def lake_years(con) -> list[int]:
    if not table_exists(con, "bronze.accidents"):
        raise AccidentsError("bronze.accidents does not exist: run `accidents ingest` first")
    rows = con.execute("SELECT DISTINCT year(event_time) FROM bronze.accidents "
                       "WHERE event_time IS NOT NULL ORDER BY 1").fetchall()
    return [int(r[0]) for r in rows]


def summarize_weather(con) -> WeatherSummary:
    row = con.execute("SELECT any_value(source), count(*), count(DISTINCT station_id), min(hour), max(hour) "
                      "FROM silver.weather_hourly").fetchone()
    shares = dict(con.execute("SELECT atm, count(*) / sum(count(*)) OVER () FROM silver.weather_hourly "
                              "GROUP BY atm ORDER BY atm").fetchall())
    return WeatherSummary(str(row[0]), int(row[1]), int(row[2]), str(row[3]), str(row[4]),
                          {int(k): round(float(v), 4) for k, v in shares.items()})


def build_weather_hourly(con: duckdb.DuckDBPyConnection, source, years) -> WeatherSummary:
    """Write silver.weather_hourly from `source` (an object with `hourly(years)`) for `years`."""
    from pipeline.weather import WEATHER_COLUMNS

    frame = source.hourly(list(years))
    if frame.empty:
        raise AccidentsError(f"weather source {source.label}: no hourly record for {sorted(years)}")
    frame = frame.sort_values(["station_id", "hour"], kind="stable").reset_index(drop=True)
    select = ", ".join(f'"{c}"::{t} AS "{c}"' for c, t in WEATHER_COLUMNS.items())
    con.register("weather_frame", frame)
    try:
        replace_table(con, "silver.weather_hourly", f"SELECT {select} FROM weather_frame")
    finally:
        con.unregister("weather_frame")
    return summarize_weather(con)


def drop_weather_hourly(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP TABLE IF EXISTS silver.weather_hourly")
