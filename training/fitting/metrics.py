"""Classification metrics, calibration error and a bootstrap CI, built on scikit-learn."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

ECE_BINS = 15
CURVE_POINTS = 60  # points kept per ROC or precision-recall curve in the JSON
BOOTSTRAP_RESAMPLES = 2000


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict[str, Any]:
    """Expected calibration error of the top-class confidence, with the per-bin table behind it."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        members = which == b
        count = int(members.sum())
        if count:
            accuracy, mean_confidence = float(correct[members].mean()), float(confidence[members].mean())
            ece += count / len(labels) * abs(accuracy - mean_confidence)
        else:
            accuracy, mean_confidence = None, None  # an empty bin has neither
        table.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "accuracy": accuracy,
                "confidence": mean_confidence,
            }
        )
    return {"ece": float(ece), "bins": table}


def bootstrap_mean_ci(
    values: np.ndarray,
    seed: int = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = 0.95,
    groups: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (of 0/1 correctness, that is the accuracy).

    With `groups` (near-duplicate groups), whole groups are resampled (cluster bootstrap): copies of one scan are
    not independent evidence, and resampling them one by one would give too narrow an interval.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    _, cluster = np.unique(np.arange(len(values)) if groups is None else groups, return_inverse=True)
    sums, counts = np.bincount(cluster, weights=values), np.bincount(cluster).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(resamples, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def classification_report(
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy (CI by cluster bootstrap over `groups` when given), balanced accuracy and macro F1 over the classes
    present (a class with no scans has no recall), per-class and one-vs-rest figures, calibration."""
    labels = np.asarray(labels)
    predictions = probabilities.argmax(axis=1)
    indices = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=indices, zero_division=0
    )
    low, high = bootstrap_mean_ci(predictions == labels, seed=seed, groups=groups)
    present = sorted(set(labels.tolist()))
    return {
        "n": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predictions)),
        "accuracy_ci95": [low, high],
        "balanced_accuracy": float(balanced_accuracy_score(labels, predictions)) if len(set(labels)) > 1 else None,
        "macro_f1": float(f1_score(labels, predictions, labels=present, average="macro", zero_division=0)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "one_vs_rest": {
            name: one_vs_rest(labels == i, predictions == i, probabilities[:, i]) for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion_matrix(labels, predictions, labels=indices).tolist(),
        "calibration": reliability(probabilities, labels),
    }


def proportion(successes: int, trials: int) -> dict[str, Any]:
    """A proportion with its Wilson score 95 % interval (None when there are no trials)."""
    if trials == 0:
        return {"value": None, "ci95": None}
    interval = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return {"value": successes / trials, "ci95": [float(interval.low), float(interval.high)]}


def _thinned(*arrays: np.ndarray) -> list[list[float]]:
    keep = np.unique(np.linspace(0, len(arrays[0]) - 1, min(CURVE_POINTS, len(arrays[0]))).round().astype(int))
    return [[round(float(a[i]), 4) for i in keep] for a in arrays]


def one_vs_rest(truth: np.ndarray, predicted: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """One class against the others: sensitivity, specificity, PPV and NPV with Wilson CIs, ROC and PR curves."""
    tp, fn = int((truth & predicted).sum()), int((truth & ~predicted).sum())
    fp, tn = int((~truth & predicted).sum()), int((~truth & ~predicted).sum())
    both_present = truth.any() and (~truth).any()
    result = {
        "sensitivity": proportion(tp, tp + fn),
        "specificity": proportion(tn, tn + fp),
        "ppv": proportion(tp, tp + fp),
        "npv": proportion(tn, tn + fn),
        "roc_auc": float(roc_auc_score(truth, scores)) if both_present else None,
        "average_precision": float(average_precision_score(truth, scores)) if both_present else None,
    }
    if both_present:
        fpr, tpr, _ = roc_curve(truth, scores)
        precision, recall, _ = precision_recall_curve(truth, scores)
        result["roc_curve"] = dict(zip(("fpr", "tpr"), _thinned(fpr, tpr)))
        result["pr_curve"] = dict(zip(("recall", "precision"), _thinned(recall, precision)))
    return result
