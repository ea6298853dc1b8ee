"""`accidents predict`: daily point-hour expected accidents into gold.predictions."""

from __future__ import annotations

import argparse
import datetime as dt

from pipeline.cli.common import parse_date
from pipeline.core.errors import AccidentsError
from pipeline.core.params import from_namespace
from pipeline.gold.params import PredictParams
from pipeline.gold.scenarios import SCENARIO_LABELS
from pipeline.usecases.predictions import day_span, predict, tomorrow


def resolve_dates(args: argparse.Namespace, settings) -> list[dt.date]:
    if args.date and (args.start or args.end):
        raise AccidentsError("--date cannot be combined with --start/--end")
    if args.start or args.end:
        if not (args.start and args.end):
            raise AccidentsError("--start and --end go together")
        return day_span(parse_date(args.start, "--start"), parse_date(args.end, "--end"))
    return [parse_date(args.date) if args.date else tomorrow(settings)]


def _interval(i) -> str:
    return f"{i.expected:.2f} [{i.low:.2f}-{i.high:.2f}], {i.count_low}-{i.count_high} accidents"


def format_summary(summary) -> str:
    years = summary.train_years
    lines = [
        f"model {summary.model_name} v{summary.model_version} ({summary.model_kind}) · atm={summary.atm} "
        f"({SCENARIO_LABELS[summary.atm]}) · {summary.n_points} road points"
        + (f" · learnt from {years[0]}-{years[-1]}" if years else ""),
        f"{summary.rows_written} rows written to gold.predictions in {summary.seconds:.1f}s",
    ]
    if summary.remapped_point_hours:
        lines.append(f"note: {summary.remapped_point_hours} forecast point-hours of a weather the model never saw "
                     "were scored as normal weather")
    if len(summary.days) > 1:
        total = sum(d.expected_accidents for d in summary.days)
        lines.append(f"{len(summary.days)} days, {total:.1f} expected accidents in total")
        for day in summary.days:
            lines.append(f"  {day.date}  expected {_interval(day.interval)}  riskiest hour "
                         f"{day.most_dangerous_hour:02d}:00")
        return "\n".join(lines)
    day = summary.days[0]
    lines += [
        f"{day.date}: expected accidents {_interval(day.interval)} (90 % intervals: the expected count, then the "
        f"count); most dangerous hour {day.most_dangerous_hour:02d}:00 ({day.most_dangerous_hour_expected:.3f} expected)",
        "top points (expected accidents over the day, peak hour, why):",
    ]
    for i, p in enumerate(day.top_points, 1):
        why = "; ".join(f"{r['detail']} x{r['ratio']:.1f}" for r in p.reasons) or "-"
        lines.append(f"  {i:2d}. point {p.point_id} ({p.lat:.4f}, {p.lon:.4f}) commune {p.com or 'n/a'} "
                     f"{p.road_type or 'n/a'}: {p.expected_accidents:.3f} [{p.interval.low:.3f}-{p.interval.high:.3f}], "
                     f"peak {p.peak_hour:02d}:00 · {why}")
    return "\n".join(lines)


def run_predict(args: argparse.Namespace, settings) -> int:
    report_prediction(predict(settings, from_namespace(PredictParams, args), resolve_dates(args, settings)))
    return 0


def report_prediction(prediction) -> None:
    """Print the summary and the day checks; a failed check is a one-line error (rows stay written)."""
    print(format_summary(prediction.summary))
    checks, failed = prediction.checks, prediction.failed_checks
    if len(checks) == 1:
        print(f"check: {checks[0].message()}")
    elif checks:
        print(f"check: {len(checks) - len(failed)}/{len(checks)} days within the band of their month and weekday")
    if failed:
        raise AccidentsError(f"prediction check failed for {len(failed)} day(s), first {failed[0].message()} "
                             "(rows written to gold.predictions; the model is off for this kind of day)")
