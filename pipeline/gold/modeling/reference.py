"""The predecessor's report on the 80/20 random split: per-class table, confusion matrix, comparison."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.gold.modeling.scores import classification_metrics, confusion_counts, per_class_metrics


def reference_report(
    y_true,
    scores: Mapping[str, np.ndarray],
    seconds: Mapping[str, float],
    threshold: float = 0.5,
) -> tuple[pd.DataFrame, str]:
    """Long table (algorithm, metric, class, value) and the same content as printable text."""
    rows = []
    blocks = []
    comparison = []
    for algorithm, score in scores.items():
        overall = classification_metrics(y_true, score, threshold)
        classes = per_class_metrics(y_true, score, threshold)
        counts = confusion_counts(y_true, score, threshold)
        for cls, values in classes.items():
            for metric, value in values.items():
                rows.append((algorithm, metric, str(cls), float(value)))
        for metric in ("accuracy", "roc_auc", "pr_auc"):
            rows.append((algorithm, metric, "all", float(overall[metric])))
        for name, value in counts.items():
            rows.append((algorithm, f"confusion_{name}", "all", float(value)))
        rows.append((algorithm, "train_seconds", "all", float(seconds.get(algorithm, float("nan")))))

        lines = [f"== {algorithm} ==", f"{'class':>6} {'recall':>8} {'precision':>10} {'f1':>8} {'support':>8}"]
        for cls in (0, 1):
            v = classes[cls]
            lines.append(f"{cls:>6} {v['recall']:>8.3f} {v['precision']:>10.3f} {v['f1']:>8.3f} {int(v['support']):>8}")
        lines.append(f"accuracy {overall['accuracy']:.3f}   ROC AUC {overall['roc_auc']:.3f}")
        lines.append(f"confusion [[tn={counts['tn']} fp={counts['fp']}] [fn={counts['fn']} tp={counts['tp']}]]")
        blocks.append("\n".join(lines))
        comparison.append((algorithm, classes[1]["recall"], classes[1]["precision"], classes[1]["f1"],
                           overall["roc_auc"], seconds.get(algorithm, float("nan"))))

    header = f"{'algorithm':<10} {'recall':>7} {'precision':>9} {'f1':>7} {'auc':>7} {'seconds':>8}"
    table = [header] + [f"{a:<10} {r:>7.3f} {p:>9.3f} {f:>7.3f} {auc:>7.3f} {s:>8.1f}"
                        for a, r, p, f, auc, s in comparison]
    text = "\n\n".join(blocks + ["== comparison (class 1, test split) ==\n" + "\n".join(table)])
    frame = pd.DataFrame(rows, columns=["algorithm", "metric", "class", "value"])
    return frame, text
