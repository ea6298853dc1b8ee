"""`accidents predict` (daily point-hour probabilities into gold.predictions) and `accidents map`."""

from __future__ import annotations

import argparse
import datetime as dt

from pipeline.cli.common import parse_date
from pipeline.errors import AccidentsError

MAX_BACKFILL_DAYS = 3660


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="score every road point for every hour of a day (default: tomorrow in Nouméa)",
        description="Write gold.predictions for --date (default tomorrow, Pacific/Noumea) or --start..--end.",
    )
    p.add_argument("--date", help="YYYY-MM-DD (default: tomorrow in Pacific/Noumea)")
    p.add_argument("--start", help="first day of a backfill, YYYY-MM-DD (with --end)")
    p.add_argument("--end", help="last day of a backfill, YYYY-MM-DD, inclusive")
    p.add_argument("--atm", default="1", help="BAAC weather code 1..9 (1 normal, 2 light rain, 3 heavy rain, 5 fog)")
    p.add_argument("--model", default="champion", help="'champion' or a registered model VERSION")
    p.add_argument("--dep", default="988", help="département whose model to use (default 988)")
    p.set_defaults(func=run_predict)

    m = subparsers.add_parser(
        "map",
        help="write the hourly risk map (HTML) of a predicted day",
        description="Read gold.predictions for --date/--atm and write a self-contained Folium map.",
    )
    m.add_argument("--date", help="YYYY-MM-DD (default: tomorrow in Pacific/Noumea)")
    m.add_argument("--atm", default="1", help="BAAC weather code of the predicted scenario (default 1)")
    group = m.add_mutually_exclusive_group()
    group.add_argument("--top-n", type=int, default=None, help="show the N riskiest points of each hour (1-10, default 3)")
    group.add_argument("--threshold", type=float, default=None, help="show point-hours at or above this percentile (0-100)")
    m.add_argument("--out", help="output HTML (default data/maps/<date>.html)")
    m.set_defaults(func=run_map)


def resolve_dates(args: argparse.Namespace) -> list[dt.date]:
    from pipeline.stage_predictions import tomorrow_in

    if args.date and (args.start or args.end):
        raise AccidentsError("--date cannot be combined with --start/--end")
    if args.start or args.end:
        if not (args.start and args.end):
            raise AccidentsError("--start and --end go together")
        start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
        if end < start:
            raise AccidentsError(f"--end {end} is before --start {start}")
        n = (end - start).days + 1
        if n > MAX_BACKFILL_DAYS:
            raise AccidentsError(f"--start/--end span {n} days (at most {MAX_BACKFILL_DAYS})")
        return [start + dt.timedelta(days=i) for i in range(n)]
    return [parse_date(args.date) if args.date else tomorrow_in("Pacific/Noumea")]


def load_model(settings, dep: str, which: str):
    """(model, model_name, version) from the MLflow registry: the champion or an explicit version."""
    from pipeline import registry

    name = f"accidents-risk-{dep}"
    if which == "champion":
        model, version = registry.load_champion(settings.resolved_mlflow_uri, name)
    else:
        if not which.isdigit():
            raise AccidentsError(f"--model {which!r}: expected 'champion' or a version number")
        model, version = registry.load_version(settings.resolved_mlflow_uri, name, which)
    return model, name, str(version)


def format_summary(summary) -> str:
    from pipeline.stage_predictions import ATM_LABELS

    lines = [
        f"model {summary.model_name} v{summary.model_version} · atm={summary.atm} "
        f"({ATM_LABELS[summary.atm]}) · {summary.n_points} road points · history before "
        f"{summary.history_cutoff:%Y-%m-%d %H:%M}",
        f"{summary.rows_written} rows written to gold.predictions in {summary.seconds:.1f}s",
    ]
    if len(summary.days) > 1:
        total = sum(d.expected_accidents for d in summary.days)
        lines.append(f"{len(summary.days)} days, {total:.1f} expected accidents in total")
        for day in summary.days:
            lines.append(
                f"  {day.date}  expected {day.expected_accidents:6.2f}  riskiest hour {day.most_dangerous_hour:02d}:00"
            )
        return "\n".join(lines)
    day = summary.days[0]
    lines += [
        f"{day.date}: {day.expected_accidents:.2f} expected accidents; most dangerous hour "
        f"{day.most_dangerous_hour:02d}:00 ({day.most_dangerous_hour_expected:.3f} expected)",
        "top points (expected accidents over the day, peak hour):",
    ]
    for i, p in enumerate(day.top_points, 1):
        lines.append(
            f"  {i:2d}. point {p.point_id} ({p.lat:.4f}, {p.lon:.4f}) commune {p.com or 'n/a'} "
            f"{p.road_type or 'n/a'}: {p.expected_accidents:.4f}, peak {p.peak_hour:02d}:00 p={p.peak_probability:.5f}"
        )
    return "\n".join(lines)


def run_predict(args: argparse.Namespace, settings) -> int:
    from pipeline.lake import lake_connection
    from pipeline.stage_predictions import predict_days, validate_atm

    dates = resolve_dates(args)
    atm = validate_atm(args.atm)
    model, name, version = load_model(settings, args.dep, args.model)
    with lake_connection(settings) as con:
        summary = predict_days(con, model=model, model_name=name, model_version=version, dates=dates, atm=atm)
    print(format_summary(summary))
    return 0


def run_map(args: argparse.Namespace, settings) -> int:
    from pathlib import Path

    from pipeline.lake import lake_connection
    from pipeline.risk_map import build_risk_map, road_network
    from pipeline.stage_predictions import read_predictions, tomorrow_in, validate_atm

    day = parse_date(args.date) if args.date else tomorrow_in("Pacific/Noumea")
    atm = validate_atm(args.atm)
    mode = "threshold" if args.threshold is not None else "top_n"
    top_n = 3 if args.top_n is None else args.top_n
    if mode == "top_n" and not 1 <= top_n <= 10:
        raise AccidentsError(f"--top-n {top_n}: expected 1 to 10")
    with lake_connection(settings, read_only=True) as con:
        df = read_predictions(con, day, atm)
        roads = road_network(con)
    if df.empty:
        raise AccidentsError(
            f"no predictions for {day} atm={atm}: run accidents predict --date {day} --atm {atm} first"
        )
    out = Path(args.out) if args.out else settings.maps_dir / f"{day.isoformat()}.html"
    path = build_risk_map(
        df, date=day, atm=atm, mode=mode, top_n=top_n,
        threshold_percentile=args.threshold if args.threshold is not None else 90.0, out_path=out, roads=roads,
    )
    print(f"map of {day} (atm={atm}, {len(df)} point-hours) written to {path}")
    return 0


def ensure_predictions(settings, day: dt.date, atm: int, *, dep: str = "988"):
    """(predictions of day+atm, note): read them read-only; when absent, score them with the champion."""
    from pipeline.lake import lake_connection
    from pipeline.stage_predictions import predict_days, read_predictions, validate_atm

    atm = validate_atm(atm)
    with lake_connection(settings, read_only=True) as con:
        df = read_predictions(con, day, atm)
    if not df.empty:
        return df, f"{len(df)} predictions read from gold.predictions"
    model, name, version = load_model(settings, dep, "champion")
    with lake_connection(settings) as con:
        summary = predict_days(con, model=model, model_name=name, model_version=version, dates=[day], atm=atm)
        df = read_predictions(con, day, atm)
    return df, f"{summary.rows_written} predictions computed with {name} v{version}"


def latest_predicted_date(settings, atm: int = 1) -> dt.date | None:
    """The most recent date already in gold.predictions for this scenario (None if none)."""
    from pipeline.lake import lake_connection, table_exists

    with lake_connection(settings, read_only=True) as con:
        if not table_exists(con, "gold.predictions"):
            return None
        row = con.execute("SELECT max(date) FROM gold.predictions WHERE atm = ?", [atm]).fetchone()
    return row[0] if row else None
