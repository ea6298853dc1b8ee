"""`accidents evaluate`: a backtest of the shipped training on every road point x hour of a held-out year."""

from __future__ import annotations

from pipeline.core.params import from_namespace
from pipeline.gold.params import EvaluateParams
from pipeline.usecases.evaluation import evaluate_backtest


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
    params = from_namespace(EvaluateParams, args)
    figure_dir = params.figures or settings.data_dir / "evaluation"
    print_evaluation(evaluate_backtest(settings, params, source=source, progress=lambda m: print(m, flush=True)),
                     figure_dir)
    return 0
