"""`accidents evaluate`: score the test year on every road point x hour, against hotspot baselines."""

from __future__ import annotations

import argparse

from pipeline.cli.common import parse_date
from pipeline.errors import AccidentsError

SAMPLERS = ("exclusion", "uniform")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate the temporal model(s) on the full test year vs hotspot baselines",
        description=(
            "Score every road point x every hour of --test-year with the registered temporal model(s), "
            "compare with the history-count and KDE hotspot baselines (and the demo oracle when the "
            "lake holds demo data), write gold.evaluation / gold.calibration and print the table. "
            "Weather: each hour's recorded weather at its nearest station (silver.weather_hourly), "
            "or --atm CODE for every hour."
        ),
    )
    p.add_argument("--sampler", choices=[*SAMPLERS, "both"], default="both",
                   help="which sampler's model to evaluate (default both)")
    p.add_argument("--test-year", type=int, default=2024, help="held-out year (default 2024)")
    p.add_argument("--valid-year", type=int, default=None, help="year choosing the KDE bandwidth (default test-1)")
    p.add_argument("--model", default="champion",
                   help="'champion' (the latest temporal version per sampler, champion first) or a VERSION")
    p.add_argument("--history-cutoff", default=None,
                   help="history features use accidents before this date (default 1 January of the test year)")
    p.add_argument("--atm", type=int, default=None,
                   help="BAAC weather code used for every hour (default: each hour's recorded weather)")
    p.add_argument("--truth", default=None, help="demo truth folder for the oracle (default: found when demo data)")
    p.add_argument("--figures", default=None, help="folder for the PNG figures (default data/evaluation)")
    p.add_argument("--no-mlflow", action="store_true", help="do not log the evaluation to MLflow")
    p.add_argument("--dep", default="988", help="département whose model to use (default 988)")
    p.set_defaults(func=run_evaluate)


def _versions_for(settings, name: str, sampler: str, which: str) -> dict:
    """The registry entry to evaluate for `sampler`: an explicit version, or the champion/latest temporal one."""
    from pipeline import registry

    versions = registry.list_model_versions(settings.resolved_mlflow_uri, name)
    if not versions:
        raise AccidentsError(f"no model registered as {name}; run `accidents train --protocol temporal` first")
    if which != "champion":
        if not which.isdigit():
            raise AccidentsError(f"--model {which!r}: expected 'champion' or a version number")
        found = [v for v in versions if v["version"] == which]
        if not found:
            raise AccidentsError(f"--model {which}: {name} has versions {', '.join(v['version'] for v in versions)}")
        return found[0]
    temporal = [v for v in versions if v.get("protocol") == "temporal" and v.get("sampler") == sampler]
    if not temporal:
        raise AccidentsError(
            f"no temporal model trained with sampler {sampler!r} in {name}; "
            f"run `accidents train --protocol temporal --sampler {sampler}`"
        )
    champions = [v for v in temporal if "champion" in v["aliases"]]
    return (champions or temporal)[-1]


def _load_version(settings, name: str, entry: dict):
    """The RiskModel bundle of one registered version (never a pickle)."""
    from pipeline.registry import load_version

    model, _ = load_version(settings.resolved_mlflow_uri, name, entry["version"])
    return model


def _demo_truth(con, settings, explicit: str | None):
    """The demo truth (oracle) when asked for or when the lake was ingested from one demo folder."""
    from pathlib import Path

    from pipeline.sources.demo_model import load_truth

    if explicit:
        return load_truth(Path(explicit))
    try:
        sources = {r[0] for r in con.execute("SELECT DISTINCT source FROM bronze.ingest_log").fetchall()}
    except Exception:  # no ingest log: not demo data as far as we can tell
        return None
    if sources != {"demo"}:
        return None
    folders = sorted(settings.demo_dir.glob("*/demo_truth"))
    if len(folders) != 1:
        print(f"note: demo data but {len(folders)} demo truth folders under {settings.demo_dir}; "
              "pass --truth for the oracle row")
        return None
    return load_truth(folders[0])


def run_evaluate(args: argparse.Namespace, settings) -> int:
    from pathlib import Path

    from pipeline.lake import connect, table_exists
    from pipeline.stage_evaluation import evaluate

    if args.atm is not None and not 1 <= args.atm <= 9:
        raise AccidentsError(f"--atm {args.atm}: expected a BAAC weather code 1..9")
    cutoff = parse_date(args.history_cutoff, "--history-cutoff") if args.history_cutoff else None
    valid_year = args.valid_year if args.valid_year is not None else args.test_year - 1
    name = f"accidents-risk-{args.dep}"
    samplers = SAMPLERS if args.sampler == "both" else (args.sampler,)
    if args.model != "champion" and args.sampler == "both":
        samplers = (None,)  # an explicit version carries its own sampler
    figure_dir = Path(args.figures) if args.figures else settings.data_dir / "evaluation"

    con = connect(settings)
    try:
        for table in ("silver.road_points", "silver.accident_points", "bronze.accidents"):
            if not table_exists(con, table):
                raise AccidentsError(f"{table} is missing: run `accidents ingest` and `accidents features` first")
        years = [r[0] for r in con.execute(
            "SELECT DISTINCT year(event_time) FROM bronze.accidents WHERE event_time IS NOT NULL ORDER BY 1").fetchall()]
        if args.test_year not in years:
            raise AccidentsError(f"--test-year {args.test_year}: no accidents in the lake (years: {years})")
        if valid_year not in years:
            raise AccidentsError(f"--valid-year {valid_year}: no accidents in the lake (years: {years})")
        truth = _demo_truth(con, settings, args.truth)
        for sampler in samplers:
            entry = _versions_for(settings, name, sampler or "", args.model)
            if entry.get("protocol") != "temporal":
                raise AccidentsError(
                    f"{name} version {entry['version']} was trained with protocol {entry.get('protocol')!r}: "
                    "its training saw the test year; evaluate a temporal model")
            sampler = sampler or entry.get("sampler") or "unknown"
            if entry.get("sampler") not in (None, sampler):
                raise AccidentsError(f"--model {entry['version']} was trained with sampler {entry['sampler']!r}")
            model = _load_version(settings, name, entry)
            train_years = [y for y in (model.train_years or [y for y in years if y < valid_year]) if y < valid_year]
            print(f"evaluating {name} v{entry['version']} ({model.algorithm}, sampler {sampler}) on "
                  f"{args.test_year}: train years {train_years}, validation {valid_year}"
                  + (", with the demo oracle" if truth is not None else ""), flush=True)
            summary = evaluate(
                con, model=model, model_name=f"{name}-v{entry['version']}", sampler=sampler,
                test_year=args.test_year, train_years=train_years, valid_year=valid_year,
                history_cutoff=cutoff, truth=truth, atm=args.atm, figure_dir=figure_dir,
            )
            print(summary.table)
            for note in summary.notes:
                print(f"warning: {note}")
            t = summary.timings
            print(f"{summary.n_rows:,} point-hours ({summary.n_points} points x {summary.n_hours} hours), "
                  f"{summary.observed_accidents} accidents; features {t['features_s']:.1f}s, "
                  f"scoring {t['scoring_s']:.1f}s, metrics {t['metrics_s']:.1f}s; "
                  f"figures in {figure_dir}", flush=True)
            if not args.no_mlflow:
                from pipeline.evaluation_mlflow import log_evaluation_to_mlflow

                run_id = log_evaluation_to_mlflow(settings.resolved_mlflow_uri, summary)
                print(f"logged to MLflow run {run_id}")
    finally:
        con.close()
    return 0
