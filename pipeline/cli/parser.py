"""The arguments of every `accidents` sub-command, in --help order.

Only the standard library and the parameter dataclasses (`*/params.py`) are imported here: building the
parser loads no stage code, numpy, pandas or DuckDB, so that `accidents --help` and a usage error stay
fast. Each sub-command names its handler as "module:function"; `pipeline.cli.main` imports that module
only when the command runs.
"""

from __future__ import annotations

import argparse

from pipeline.bronze.params import IngestParams
from pipeline.cli.common import add_department_argument
from pipeline.core.errors import AccidentsError
from pipeline.core.params import add_arguments
from pipeline.gold.params import EvaluateParams, MapParams, PredictParams, TrainParams
from pipeline.silver.params import FeatureParams
from pipeline.usecases.params import MaintenanceParams

DEFAULT_YEARS = "2019-2024"  # of `accidents demo-data`


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage + exiting 2, so errors stay on one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise AccidentsError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="accidents",
        description="Road-accident risk lakehouse for New Caledonia (BAAC + OpenStreetMap on DuckLake).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_run_arguments, _demo_arguments, _ingest_arguments, _features_arguments, _train_arguments,
                _evaluate_arguments, _predict_arguments, _lakecmd_arguments, _serve_arguments):
        add(subparsers)
    return parser


def _run_arguments(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="run the whole chain: ingest, features, train, evaluate, predict tomorrow, map",
        description="Ingest, build silver features, train and register models, evaluate on the hold-out "
                    "year, predict tomorrow and write its map. Default: offline SYNTHETIC demo data.")
    add_arguments(parser, IngestParams)
    add_department_argument(parser)
    add_arguments(parser, TrainParams, only=("candidates", "trials", "timeout", "threads"))
    add_arguments(parser, FeatureParams, only=("roads_file", "weather"))
    parser.add_argument("--date", help="day to predict (default: tomorrow in the département's time zone)")
    parser.set_defaults(handler="pipeline.cli.run:run")


def _demo_arguments(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo-data",
        help="write SYNTHETIC demo BAAC files, roads.osm and the true intensity (offline)",
        description="Generate deterministic SYNTHETIC New Caledonia accident files in the official BAAC "
                    "format, a road network (roads.osm) and the true risk model (demo_truth/).",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: ACCIDENTS_SEED or 42)")
    parser.add_argument("--scale", default="1", help="volume multiplier, > 0 (default %(default)s: ~290 accidents a year)")
    parser.add_argument("--years", default=DEFAULT_YEARS, help="YEAR, FIRST-LAST or a comma list (default %(default)s)")
    parser.set_defaults(handler="pipeline.cli.demo:run")


def _ingest_arguments(subparsers) -> None:
    parser = subparsers.add_parser("ingest", help="load BAAC files into the bronze tables")
    add_arguments(parser, IngestParams)
    add_department_argument(parser, several=True)
    parser.set_defaults(handler="pipeline.cli.ingest:run")


def _features_arguments(subparsers) -> None:
    parser = subparsers.add_parser(
        "features", help="build roads, road points, negative samples and risk features (silver layer)",
        description="Build bronze.roads (if missing or a roads file applies) and the silver tables "
                    "road_points, accident_points, features, features_reference and features_meta.",
    )
    add_arguments(parser, FeatureParams)
    add_department_argument(parser)
    parser.set_defaults(handler="pipeline.cli.features:run")


def _train_arguments(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="let the risk models compete on the newest year's likelihood; register the winner as champion",
        description="The intensity candidates (the hotspot map, a Poisson GLM, CatBoost/LightGBM/XGBoost on the GLM "
        "tuned with Optuna, a blend) are fitted on the years before the newest one and scored on every road point "
        "x hour of it; the best calibrated one is refitted on every year, logged to MLflow and registered as "
        "'champion'. --protocol reference reproduces the predecessor's case-control classifiers (80/20 split; "
        "logged, never published).",
    )
    add_arguments(p, TrainParams)
    add_department_argument(p)
    p.set_defaults(handler="pipeline.cli.train:run_train")

    m = subparsers.add_parser("models", help="list registered model versions, their metrics and the champion",
                              description="Versions of accidents-risk-<dep> in the MLflow registry.")
    add_department_argument(m)
    m.set_defaults(handler="pipeline.cli.train:run_models")


def _evaluate_arguments(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="backtest the training on a held-out year: every candidate vs hotspot baselines (and the demo truth)",
        description=(
            "Run the training as it would have run with the data published before the test year (years up to "
            "test year - 1 - lag), then score every road point x every hour of the test year with the champion, "
            "each candidate, the history-count and KDE hotspot baselines and, on demo data, the oracle; write "
            "gold.evaluation / gold.calibration and print the table. Weather: each hour's recorded weather at its "
            "nearest station (silver.weather_hourly), or --atm CODE for every hour."
        ),
    )
    add_arguments(p, EvaluateParams)
    add_department_argument(p)
    p.set_defaults(handler="pipeline.cli.evaluate:run_evaluate")


def _predict_arguments(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="score every road point for every hour of a day (default: tomorrow in the département's time zone)",
        description="Write gold.predictions for --date (default tomorrow, local time) or --start..--end.",
    )
    p.add_argument("--date", help="YYYY-MM-DD (default: tomorrow in the département's time zone)")
    p.add_argument("--start", help="first day of a backfill, YYYY-MM-DD (with --end)")
    p.add_argument("--end", help="last day of a backfill, YYYY-MM-DD, inclusive")
    add_arguments(p, PredictParams)
    add_department_argument(p)
    p.set_defaults(handler="pipeline.cli.predict:run_predict")

    m = subparsers.add_parser(
        "map",
        help="write the hourly risk map (HTML) of a predicted day",
        description="Read gold.predictions for --date/--atm and write a self-contained Folium map.",
    )
    m.add_argument("--date", help="YYYY-MM-DD (default: tomorrow in the département's time zone)")
    add_arguments(m, MapParams)
    m.add_argument("--out", help="output HTML (default data/maps/<date>.html)")
    add_department_argument(m)
    m.set_defaults(handler="pipeline.cli.maps:run_map")


def _lakecmd_arguments(subparsers) -> None:
    tables = subparsers.add_parser("tables", help="list the lake's tables, row counts and current snapshot")
    tables.set_defaults(handler="pipeline.cli.lakecmd:run_tables")

    sql = subparsers.add_parser(
        "sql", help="run a SQL query on the lake (read-only) and print the result",
        description="One SELECT-like statement (SELECT, FROM, DESCRIBE, SUMMARIZE, SHOW) on the lake's tables "
                    "(bronze.*, silver.*, gold.*), with DuckDB's ordinary functions and the catalog views "
                    "(ducklake_snapshots('lake'), information_schema); no file, other database or setting.")
    sql.add_argument("query", nargs="?", help='e.g. "SELECT year, count(*) FROM bronze.accidents GROUP BY 1"; '
                                              "or give --file")
    sql.add_argument("--file", "-f", help="read the query from this file ('-' for standard input)")
    sql.add_argument("--format", choices=("table", "csv", "json", "markdown"), default="table")
    sql.add_argument("--max-rows", type=int, default=100, help="rows printed at most (default %(default)s)")
    sql.add_argument("--timeout", type=float, default=60.0, help="seconds before the query is stopped "
                                                                 "(default %(default)s)")
    sql.add_argument("--memory-limit", default="2GB", help="memory the query may use (default %(default)s)")
    sql.set_defaults(handler="pipeline.cli.lakecmd:run_sql")

    lake = subparsers.add_parser("lake", help="lake utilities")
    lake_sub = lake.add_subparsers(dest="lake_command", metavar="COMMAND", required=True)
    attach = lake_sub.add_parser("attach-sql", help="print the SQL that opens this lake in the duckdb CLI")
    attach.add_argument("--read-write", action="store_true", help="attach writable (default read-only)")
    attach.set_defaults(handler="pipeline.cli.lakecmd:run_attach_sql")

    verify = lake_sub.add_parser(
        "verify", help="check every data file of the lake against its recorded size and checksum",
        description="Reads every live data and delete file (local or S3) and compares its size with the "
                    "catalog's and its BLAKE3 hash with the one recorded at its commit. Lists the damaged or "
                    "missing ones by table, file, snapshot and years; exit code 1 when there is one.")
    verify.set_defaults(handler="pipeline.cli.lakecmd:run_verify")
    repair = lake_sub.add_parser(
        "repair", help="rebuild damaged bronze tables from the cached source files; drop damaged derived ones",
        description="Bronze tables are rebuilt from the cached BAAC files, which must still match the SHA-256 "
                    "recorded at ingest; silver and gold are marked stale (damaged ones are dropped) and are "
                    "rebuilt by their stage. Refuses, changing nothing, what cannot be repaired.")
    repair.set_defaults(handler="pipeline.cli.lakecmd:run_repair")

    maintain = lake_sub.add_parser(
        "maintain", help="merge small files, expire old snapshots, delete unreferenced and orphaned files",
        description="DuckLake upkeep (also a weekly Dagster job): prints the data path's files and bytes "
                    "before and after. Time travel reaches back --retention-days.")
    add_arguments(maintain, MaintenanceParams)
    maintain.set_defaults(handler="pipeline.cli.lakecmd:run_maintain")


def _serve_arguments(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve the risk API (/v1/risk, /v1/hotspots, /v1/map, /metrics...) over HTTP",
        description="Serve the risk API with uvicorn. The lake (embedded by default, production by the usual "
                    "ACCIDENTS_* settings) is opened read-only; OpenAPI docs at /docs.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    p.add_argument("--dep", default=None, help="département whose champion to serve (default: ACCIDENTS_DEPS or 988)")
    p.add_argument("--radius-km", type=float, default=2.0,
                   help="farthest a place may be from a road point (default 2 km)")
    p.add_argument("--refresh-seconds", type=float, default=30.0,
                   help="how often new predictions and a moved champion alias are picked up (default 30)")
    p.add_argument("--compute-slots", type=int, default=1,
                   help="days not in gold.predictions scored at once, off the event loop (default 1)")
    p.add_argument("--compute-wait-seconds", type=float, default=2.0,
                   help="how long a request waits for a free scoring slot before a 503 with Retry-After (default 2)")
    p.add_argument("--header-timeout", type=float, default=10.0,
                   help="seconds a connection has to send a request's headers before it is closed (default 10)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(handler="pipeline.cli.serve:run_serve")
