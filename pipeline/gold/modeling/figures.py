"""Diagnostic figures for MLflow (matplotlib's object API, no pyplot state, no GUI backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.gold.modeling.scores import confusion_counts


def _figure(size=(5, 4)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=90)
    return fig, fig.add_subplot(1, 1, 1)


def save_figures(y_true, score, importance: dict[str, float], out_dir: Path, title: str) -> list[Path]:
    """confusion matrix, ROC, PR, feature importance and calibration plots -> PNG paths."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(score, dtype=float)
    paths = []

    fig, ax = _figure()
    c = confusion_counts(y, p)
    matrix = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]])
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center")
    ax.set_xticks([0, 1], ["pred 0", "pred 1"])
    ax.set_yticks([0, 1], ["true 0", "true 1"])
    ax.set_title(f"{title}: confusion matrix (threshold 0.5)")
    paths.append(_save(fig, out_dir / "confusion_matrix.png"))

    fig, ax = _figure()
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"{title}: ROC")
    paths.append(_save(fig, out_dir / "roc_curve.png"))

    fig, ax = _figure()
    precision, recall, _ = precision_recall_curve(y, p)
    ax.plot(recall, precision)
    ax.axhline(y.mean(), linestyle="--", color="grey")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"{title}: precision-recall")
    paths.append(_save(fig, out_dir / "pr_curve.png"))

    fig, ax = _figure((6, 7))
    top = sorted(importance.items(), key=lambda kv: kv[1])[-20:]
    ax.barh([k for k, _ in top], [v for _, v in top])
    ax.set_title(f"{title}: feature importance")
    paths.append(_save(fig, out_dir / "feature_importance.png"))

    fig, ax = _figure()
    bins = np.quantile(p, np.linspace(0, 1, 11))
    which = np.clip(np.searchsorted(bins, p, side="right") - 1, 0, 9)
    mean_pred = [p[which == b].mean() for b in range(10) if np.any(which == b)]
    mean_true = [y[which == b].mean() for b in range(10) if np.any(which == b)]
    ax.plot(mean_pred, mean_true, marker="o")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set_xlabel("mean predicted score (case-control scale)")
    ax.set_ylabel("observed positive share")
    ax.set_title(f"{title}: calibration (deciles)")
    paths.append(_save(fig, out_dir / "calibration.png"))
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    return path
