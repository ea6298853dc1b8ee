"""`accidents evaluate`: score the test year on every road point x hour, against hotspot baselines."""

from __future__ import annotations

from pipeline.cli.common import add_department_argument
from pipeline.core.params import add_arguments, from_namespace
from pipeline.gold.params import EvaluateParams


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate the temporal model(s) on the full test year vs hotspot baselines",
        description=(
            "Score every road point x every hour of the test year with the registered temporal model(s), "
            "compare with the history-count and KDE hotspot baselines (and the demo oracle when the "
            "lake holds demo data), write gold.evaluation / gold.calibration and print the table."
        ),
    )
    add_arguments(p, EvaluateParams)
    add_department_argument(p)
    p.set_defaults(func=run_evaluate)


def print_evaluation(result, figure_dir) -> None:
    summary = result.summary
    print(summary.table)
    for note in summary.notes:
        print(f"warning: {note}")
    t = summary.timings
    print(f"{summary.n_rows:,} point-hours ({summary.n_points} points x {summary.n_hours} hours), "
          f"{summary.observed_accidents} accidents; features {t['features_s']:.1f}s, "
          f"scoring {t['scoring_s']:.1f}s, metrics {t['metrics_s']:.1f}s; figures in {figure_dir}", flush=True)
    if result.mlflow_run_id:
        print(f"logged to MLflow run {result.mlflow_run_id}")


def run_evaluate(args, settings, *, source=None) -> int:
    from pipeline.usecases.evaluation import evaluate_models

    params = from_namespace(EvaluateParams, args)
    figure_dir = params.figures or settings.data_dir / "evaluation"
    for result in evaluate_models(settings, params, source=source, progress=lambda m: print(m, flush=True)):
        print_evaluation(result, figure_dir)
    return 0
