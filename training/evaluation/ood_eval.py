"""Measure the "is this a brain MRI?" guard: Testing scans vs images that are clearly not brain MRI.

The non-MRI images come from `training/data/ood_images.py`, reported by part: the
design part (seen when the guard was designed and its threshold placed) and
the held-out part (never seen). This only measures; nothing here is fitted.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from model.core.decode import decode_file
from model.core.predict import BATCH, Classifier
from model.schema.records import GuardEvaluation, write
from training.data.listing import list_split
from training.data.ood_images import DESIGN, HELD_OUT, out_of_distribution_images


def _scores(classifier: Classifier, images: list[np.ndarray]) -> np.ndarray:
    chunks = [images[start : start + 4 * BATCH] for start in range(0, len(images), 4 * BATCH)]
    scored = tqdm(chunks, desc="scoring", unit="chunk", leave=False)
    return np.array([p.ood_score for chunk in scored for p in classifier.predict_images(chunk)], dtype=np.float64)


def _detection(scores: np.ndarray, threshold: float, keep: list[bool]) -> dict[str, Any]:
    kept = scores[np.asarray(keep, dtype=bool)]
    return {
        "images": len(kept),
        "detected": int((kept > threshold).sum()),
        "detection_rate": float((kept > threshold).mean()),
    }


def evaluate_guard(data_dir: Path, split: str, artifact_dir: Path, out: Path) -> GuardEvaluation:
    """Scores `split` and every non-MRI image; the threshold is the artifact's, fixed when the guard was fitted."""
    classifier = Classifier.from_artifact(artifact_dir)
    guard = classifier.card.ood
    if classifier.ood is None or guard is None:
        raise ValueError("this artifact has no OOD guard")
    threshold = classifier.ood.threshold
    samples = list_split(data_dir, split, classifier.card.class_dirs)
    in_scores = _scores(classifier, [decode_file(s.path).rgb for s in samples])
    ood = out_of_distribution_images()
    out_scores = _scores(classifier, [rgb for *_, rgb in ood])
    labels = np.r_[np.zeros(len(in_scores)), np.ones(len(out_scores))]
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "artifact_sha256": classifier.card.weights_sha256,
        "guard_sha256": guard.sha256,
        "threshold": threshold,
        "threshold_rule": guard.threshold_rule,
        "features": guard.features,
        "in_distribution": {
            "split": split,
            "images": len(in_scores),
            "flagged": int((in_scores > threshold).sum()),
            "false_alarm_rate": float((in_scores > threshold).mean()),
        },
        "out_of_distribution": _detection(out_scores, threshold, [True] * len(ood)),
        "auroc": float(roc_auc_score(labels, np.r_[in_scores, out_scores])),
        "per_part": {p: _detection(out_scores, threshold, [part == p for part, *_ in ood]) for p in (DESIGN, HELD_OUT)},
        "per_category": {
            c: _detection(out_scores, threshold, [cat == c for _, cat, _, _ in ood])
            for c in sorted({c for _, c, _, _ in ood})
        },
        "out_of_distribution_scores": [
            {"part": p, "category": c, "name": n, "score": float(s), "flagged": bool(s > threshold)}
            for (p, c, n, _), s in zip(ood, out_scores)
        ],
    }
    return write(GuardEvaluation, out, report, indent=1)
