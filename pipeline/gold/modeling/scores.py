"""Classification scores for tuning, MLflow and the reference report (numpy + scikit-learn)."""

from __future__ import annotations

import numpy as np

OBJECTIVES = {"pr_auc": "maximize", "logloss": "minimize", "recall": "maximize"}
METRIC_NAMES = ("recall", "precision", "f1", "accuracy", "roc_auc", "pr_auc", "log_loss", "brier")


def classification_metrics(y_true, score, threshold: float = 0.5) -> dict[str, float]:
    """Threshold metrics for the positive class plus ranking and probability scores."""
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
        "roc_auc": roc_auc(y, p) if both_classes else float("nan"),
        "pr_auc": average_precision(y, p) if both_classes else float("nan"),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(y) else float("nan"),
        "brier": float(np.mean((p - y) ** 2)) if len(y) else float("nan"),
    }


def _distinct_threshold_counts(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (tp, fp) at each distinct score, highest score first (ties share a threshold)."""
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(p_sorted)), len(p_sorted) - 1]
    tp = np.cumsum(y_sorted)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    return tp.astype(float), fp.astype(float)


def roc_auc(y, p) -> float:
    """Area under the ROC curve (trapezoids over distinct thresholds; same as scikit-learn)."""
    tp, fp = _distinct_threshold_counts(np.asarray(y, dtype=int), np.asarray(p, dtype=float))
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def average_precision(y, p) -> float:
    """PR AUC as average precision: sum over thresholds of (recall step) x precision."""
    tp, fp = _distinct_threshold_counts(np.asarray(y, dtype=int), np.asarray(p, dtype=float))
    precision = tp / (tp + fp)
    recall = np.r_[0.0, tp / tp[-1]]
    return float(np.sum(np.diff(recall) * precision))


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
