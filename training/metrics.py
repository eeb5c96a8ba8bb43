"""Classification metrics, calibration error and a bootstrap CI, built on scikit-learn."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

ECE_BINS = 15
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
            accuracy = mean_confidence = None
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
    values: np.ndarray, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (of 0/1 correctness, that is the accuracy)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[draws].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def classification_report(
    labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str], seed: int = 0
) -> dict[str, Any]:
    labels = np.asarray(labels)
    predictions = probabilities.argmax(axis=1)
    indices = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=indices, zero_division=0
    )
    low, high = bootstrap_mean_ci(predictions == labels, seed=seed)
    return {
        "n": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predictions)),
        "accuracy_ci95": [low, high],
        "balanced_accuracy": float(balanced_accuracy_score(labels, predictions)) if len(set(labels)) > 1 else None,
        "macro_f1": float(f1_score(labels, predictions, labels=indices, average="macro", zero_division=0)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion_matrix(labels, predictions, labels=indices).tolist(),
        "calibration": reliability(probabilities, labels),
    }
