"""`accidents evaluate`: a backtest of the shipped training on every road point x hour of a held-out year."""

from __future__ import annotations

from pipeline.cli.common import add_department_argument
from pipeline.core.params import add_arguments, from_namespace
from pipeline.gold.params import EvaluateParams


def register(subparsers) -> None:
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
    p.set_defaults(func=run_evaluate)


def print_evaluation(result, figure_dir) -> None:
    summary = result.summary
    print(f"backtest of {summary.test_year} with data up to {summary.data_end} (lag {summary.lag}): champion "
          f"{summary.champion or 'none'}" + (f" ({summary.champion_kind})" if summary.champion_kind else ""))
    print(summary.table)
    model = summary.metrics.get("model", {})
    if "count_interval_coverage" in model:
        line = f"90 % daily intervals: observed count inside on {model['count_interval_coverage']:.0%} of days"
        if "expected_interval_coverage_truth" in model:
            line += f", the truth's expected count inside on {model['expected_interval_coverage_truth']:.0%}"
        print(line)
    for note in summary.notes:
        print(f"warning: {note}")
    t = summary.timings
    print(f"{summary.n_rows:,} point-hours ({summary.n_points} points x {summary.n_hours} hours), "
          f"{summary.observed_accidents} accidents; competition {t['competition_s']:.1f}s, metrics "
          f"{t['metrics_s']:.1f}s, effects {t['effects_s']:.1f}s; figures in {figure_dir}", flush=True)
    if result.mlflow_run_id:
        print(f"logged to MLflow run {result.mlflow_run_id}")


def run_evaluate(args, settings, *, source=None) -> int:
    from pipeline.usecases.evaluation import evaluate_backtest

    params = from_namespace(EvaluateParams, args)
    figure_dir = params.figures or settings.data_dir / "evaluation"
    print_evaluation(evaluate_backtest(settings, params, source=source, progress=lambda m: print(m, flush=True)),
                     figure_dir)
    return 0
