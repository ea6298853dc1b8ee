"""Classification scores for tuning, MLflow and the reference report (numpy + scikit-learn)."""

from __future__ import annotations

import numpy as np

OBJECTIVES = {"pr_auc": "maximize", "logloss": "minimize", "recall": "maximize"}
METRIC_NAMES = ("recall", "precision", "f1", "accuracy", "roc_auc", "pr_auc", "log_loss", "brier")


def classification_metrics(y_true, score, threshold: float = 0.5) -> dict[str, float]:
    """Threshold metrics for the positive class plus ranking and probability scores."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(y_true, dtype=int)
    p = np.clip(np.asarray(score, dtype=float), 1e-12, 1 - 1e-12)
    counts = confusion_counts(y, p, threshold)
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    both_classes = len(np.unique(y)) == 2
    return {
        "recall": recall,
        "precision": precision,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "accuracy": (tp + tn) / len(y) if len(y) else 0.0,
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both_classes else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
    }


def confusion_counts(y_true, score, threshold: float = 0.5) -> dict[str, int]:
    y = np.asarray(y_true, dtype=int)
    pred = np.asarray(score, dtype=float) >= threshold
    return {
        "tp": int(np.sum(pred & (y == 1))), "fp": int(np.sum(pred & (y == 0))),
        "fn": int(np.sum(~pred & (y == 1))), "tn": int(np.sum(~pred & (y == 0))),
    }


def per_class_metrics(y_true, score, threshold: float = 0.5) -> dict[int, dict[str, float]]:
    """recall / precision / F1 / support for class 0 and class 1 (the predecessor's table)."""
    c = confusion_counts(y_true, score, threshold)
    out = {}
    for cls, (tp, fp, fn) in {1: (c["tp"], c["fp"], c["fn"]), 0: (c["tn"], c["fn"], c["fp"])}.items():
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[cls] = {"recall": recall, "precision": precision, "f1": f1, "support": float(tp + fn)}
    return out


def objective_value(objective: str, y_true, score) -> float:
    """The tuning objective on validation rows (direction in OBJECTIVES)."""
    metrics = classification_metrics(y_true, score)
    return metrics[{"pr_auc": "pr_auc", "logloss": "log_loss", "recall": "recall"}[objective]]


def is_better(objective: str, a: float, b: float | None) -> bool:
    if b is None or np.isnan(b):
        return True
    return a > b if OBJECTIVES[objective] == "maximize" else a < b
