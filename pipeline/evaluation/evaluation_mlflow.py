"""Log an EvaluationSummary to MLflow: metrics as `<method>.<metric>`, the table and the figures."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.evaluation.report import save_figures
from pipeline.gold.registry import configure_mlflow, ensure_experiment
from pipeline.gold.run_owner import owner_tags

if TYPE_CHECKING:
    from pipeline.evaluation.summary import EvaluationSummary

DEFAULT_EXPERIMENT = "accidents-988-evaluation"


def flat_metrics(summary: EvaluationSummary) -> dict[str, float]:
    """{'model.roc_auc': .., 'baseline_kde.cell_pai_5pct': ..}; NaN values are left out (MLflow rejects them)."""
    return {
        f"{method}.{name}": float(value)
        for method, values in summary.metrics.items()
        for name, value in values.items()
        if value is not None and math.isfinite(value)
    }


def log_evaluation_to_mlflow(
    tracking_uri: str,
    summary: EvaluationSummary,
    figure_dir: Path | None = None,
    *,
    run_id: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
) -> str:
    """Log into run `run_id` (e.g. the training run) or a new run of `experiment`; returns the run id."""
    import mlflow

    configure_mlflow(tracking_uri)
    if run_id is None:
        ensure_experiment(tracking_uri, experiment)
    run_name = f"evaluate-{summary.model_name}-{summary.test_year}"
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else run_name) as run:
        mlflow.set_tags({"stage": "evaluation", "model_name": summary.model_name, "champion": str(summary.champion),
                         "test_year": str(summary.test_year), "data_end": str(summary.data_end),
                         "lag": str(summary.lag), **owner_tags()})
        mlflow.log_metrics(flat_metrics(summary))
        mlflow.log_metrics({f"timing.{k}": v for k, v in summary.timings.items()})
        mlflow.log_text(summary.table, f"evaluation/{summary.model_name}_{summary.test_year}_table.txt")
        figures = list(summary.figures)
        if figure_dir is not None:
            figures += [p for p in sorted(Path(figure_dir).glob("*.png")) if p not in figures]
        for path in figures:
            mlflow.log_artifact(str(path), artifact_path="evaluation")
        if not figures:  # still give the run something to look at
            with tempfile.TemporaryDirectory() as tmp:
                for path in save_figures(summary, Path(tmp)):
                    mlflow.log_artifact(str(path), artifact_path="evaluation")
        return run.info.run_id
