"""How an evaluation reads: its methods in order, the text table, the comparison with the best
baseline, and the figures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pipeline.evaluation.summary import EvaluationSummary

BASELINES = ("baseline_history", "baseline_kde", "baseline_shrunk")
ORACLES = ("oracle_separable", "oracle_weather_blind", "oracle")
CANDIDATE_PREFIX = "candidate_"
CURVE_FRACTIONS = tuple(np.round(np.geomspace(0.001, 1.0, 31), 6))


def method_order(methods) -> list[str]:
    """The champion first, then the candidates, the baselines and the oracles."""
    methods = list(methods)
    candidates = sorted(m for m in methods if m.startswith(CANDIDATE_PREFIX))
    return [m for m in ["model", *candidates, *BASELINES, *ORACLES] if m in methods]


TABLE_COLUMNS = (
    ("loglik_per_accident", "LL/acc", "{:.3f}"),
    ("expected_observed_ratio", "exp/obs", "{:.2f}"),
    ("expected_truth_ratio", "exp/truth", "{:.2f}"),
    ("cell_pai_1pct", "PAI@1%", "{:.1f}"),
    ("cell_hit_rate_5pct", "hit@5%", "{:.1%}"),
    ("cell_pai_5pct", "PAI@5%", "{:.1f}"),
    ("point_hit_rate_5pct", "pts hit@5%", "{:.1%}"),
    ("cell_expected_pai_5pct", "E[PAI@5%]", "{:.2f}"),
    ("cell_expected_pai_5pct_share_of_oracle", "E[PAI@5%]/oracle", "{:.0%}"),
    ("roc_auc", "ROC AUC", "{:.3f}"),
    ("brier", "Brier", "{:.2e}"),
)


def comparison_text(metrics: dict[str, dict[str, float]], best_baselines: dict[str, str]) -> str:
    """One line per skill metric: model - best baseline with its day-bootstrap 95 % interval."""
    model = metrics.get("model", {})
    lines = []
    for name, label, fmt in (("loglik_per_accident", "log-likelihood per accident", "{:+.3f}"),
                             ("cell_pai_1pct", "PAI@1%", "{:+.2f}"), ("cell_pai_5pct", "PAI@5%", "{:+.2f}"),
                             ("cell_pai_10pct", "PAI@10%", "{:+.2f}")):
        key = f"{name}_minus_best_baseline"
        if key not in model:
            continue
        lines.append(f"model - {best_baselines.get(name, 'best baseline')} on {label}: {fmt.format(model[key])} "
                     f"[{fmt.format(model[key + '_lo'])}, {fmt.format(model[key + '_hi'])}] (95 % day bootstrap; "
                     f"model ahead in {model[name + '_model_ahead_share']:.0%} of resamples)")
    return "\n".join(lines)


def format_table(metrics: dict[str, dict[str, float]]) -> str:
    """Side-by-side text table: one row per method, key metrics as columns."""
    columns = [c for c in TABLE_COLUMNS if any(c[0] in values for values in metrics.values())]
    header = ["method"] + [label for _, label, _ in columns]
    lines = [header]
    for method in method_order(metrics):
        cells = [method]
        for name, _, fmt in columns:
            value = metrics[method].get(name)
            cells.append("-" if value is None or np.isnan(value) else fmt.format(value))
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            for row in lines]
    text.insert(1, "-" * len(text[0]))
    return "\n".join(text)


def save_figures(summary: EvaluationSummary, figure_dir: Path) -> list[Path]:
    """calibration_month.png, calibration_hour.png and hit_rate_curve.png into `figure_dir`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure_dir = Path(figure_dir)
    figure_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{summary.model_name}_{summary.test_year}"
    paths = []
    shown = [m for m in method_order(summary.calibration) if not m.startswith(CANDIDATE_PREFIX)]
    for grouping, label in (("month", "month"), ("hour", "hour of day")):
        fig, ax = plt.subplots(figsize=(8, 4))
        observed = None
        for method in shown:
            rows = summary.calibration[method].by(grouping)
            keys = [r.key for r in rows]
            ax.plot(keys, [r.expected for r in rows], marker=".", label=f"{method} (expected)")
            observed = (keys, [r.observed for r in rows])
        if observed:
            ax.bar(*observed, color="lightgray", label="observed", zorder=0)
        ax.set_xlabel(label)
        ax.set_ylabel(f"accidents in {summary.test_year}")
        ax.set_title(f"Expected vs observed by {label}: backtest of {summary.test_year}")
        ax.legend(fontsize=8)
        path = figure_dir / f"{stem}_calibration_{grouping}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    fig, ax = plt.subplots(figsize=(7, 5))
    for method in shown:
        ax.plot(np.array(CURVE_FRACTIONS) * 100, summary.curves[method], label=method)
    ax.plot(np.array(CURVE_FRACTIONS) * 100, CURVE_FRACTIONS, color="gray", linestyle=":", label="random")
    ax.set_xscale("log")
    ax.set_xlabel("% of cell-hours flagged")
    ax.set_ylabel("share of accidents captured (hit rate)")
    ax.set_title(f"Hit rate, backtest of {summary.test_year}")
    ax.legend()
    path = figure_dir / f"{stem}_hit_rate_curve.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths.append(path)
    return paths
