"""`python -m training trust`: fit the prediction sets and the referral threshold on validation, then report
how they hold on Testing (whole and leakage-clean), where they were never fitted.

Validation probabilities come from the app's own classification path (decode, preprocess, ONNX Runtime,
temperature) on the run's validation split of Training; Testing probabilities from the committed evaluation.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from model.batch import batches, loaded_scans
from model.card import load_card
from model.predict import BATCH, Classifier
from model.records import Evaluation, TrustEvaluation, load, write
from model.trust import (
    ALPHA,
    RANKINGS,
    REFERRED_SHARE,
    conformal_quantile,
    conformity_scores,
    prediction_set,
    referral_threshold,
)
from training.split import split_of


def validation_probabilities(classifier: Classifier, data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(calibrated probabilities, guard scores, labels) of the validation images, through the app's path."""
    split = split_of(classifier.card.training_config, data_dir)
    paths = [split.samples[i].path for i in split.val_idx]
    predictions = []
    chunks = batches(loaded_scans(paths, classifier.card.image_size), BATCH)
    for chunk in tqdm(chunks, total=-(-len(paths) // BATCH), desc="validation", unit="batch"):
        unreadable = [str(path) for path, image, _ in chunk if image is None]
        if unreadable:
            raise ValueError(f"validation scans that cannot be read: {unreadable}")
        predictions += classifier.predict_inputs(np.stack([c[1] for c in chunk]))
    scores = [np.nan if p.ood_score is None else p.ood_score for p in predictions]
    return np.array([p.probabilities for p in predictions]), np.array(scores), split.labels[split.val_idx]


def set_summary(probabilities: np.ndarray, labels: np.ndarray, qhat: float) -> dict[str, Any]:
    sets = [prediction_set(p, qhat) for p in probabilities]
    sizes = np.array([len(s) for s in sets])
    return {
        "n": int(len(labels)),
        "coverage": float(np.mean([label in s for label, s in zip(labels, sets)])),
        "mean_size": float(sizes.mean()),
        "size_counts": {str(k): int((sizes == k).sum()) for k in range(1, probabilities.shape[1] + 1)},
    }


def referral_summary(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    confidence, right = probabilities.max(1), probabilities.argmax(1) == labels
    kept = confidence >= threshold
    return {
        "n": int(len(labels)),
        "referred_share": float(1 - kept.mean()),
        "accuracy_all": float(right.mean()),
        "accuracy_kept": float(right[kept].mean()) if kept.any() else None,
        "accuracy_referred": float(right[~kept].mean()) if (~kept).any() else None,
    }


def certainties(probabilities: np.ndarray, guard_scores: np.ndarray) -> dict[str, np.ndarray]:
    """Three ways to rank scans from most to least certain (higher = more certain), per `RANKINGS`."""
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    return {"confidence": top_two[:, 1], "margin": top_two[:, 1] - top_two[:, 0], "guard score": -guard_scores}


def coverage_curve(certainty: np.ndarray, right: np.ndarray, points: int = 21) -> list[dict[str, float]]:
    """Accuracy on the most certain scans kept, for kept shares 100 %, 95 %, ... (selective prediction)."""
    ordered = right[np.argsort(-certainty, kind="stable")]
    curve = []
    for share in np.linspace(1.0, 0.0, points)[:-1]:
        kept = max(1, int(round(share * len(right))))
        curve.append({"kept_share": float(share), "accuracy": float(ordered[:kept].mean())})
    return curve


def evaluate_trust(data_dir: Path, artifact_dir: Path, out: Path) -> TrustEvaluation:
    started = time.time()
    card, classifier = load_card(artifact_dir), Classifier.from_artifact(artifact_dir)
    val_probs, val_scores, val_labels = validation_probabilities(classifier, data_dir)
    qhat = conformal_quantile(conformity_scores(val_probs, val_labels), ALPHA)
    threshold = referral_threshold(val_probs.max(1), REFERRED_SHARE)
    testing = load(Evaluation, artifact_dir)
    if testing is None or not card.describes(testing.artifact_sha256):
        raise ValueError("no evaluation of these weights is committed; run `python -m training evaluate`")
    images = testing.images
    subsets = {"validation": (val_probs, val_labels)}
    scores = {"validation": val_scores}
    for name, keep in (("testing", lambda r: True), ("testing_leakage_clean", lambda r: not r["leaked"])):
        rows = [r for r in images if keep(r)]
        subsets[name] = (np.array([r["probabilities"] for r in rows]), np.array([r["label"] for r in rows]))
        scores[name] = np.array([np.nan if r["ood_score"] is None else r["ood_score"] for r in rows])
    report = {
        "artifact_sha256": card.weights_sha256,
        "alpha": ALPHA,
        "qhat": qhat,
        "referred_share_on_validation": REFERRED_SHARE,
        "referral_threshold": threshold,
        "sets": {name: set_summary(p, y, qhat) for name, (p, y) in subsets.items()},
        "referral": {name: referral_summary(p, y, threshold) for name, (p, y) in subsets.items()},
        "coverage_curves": {
            ranking: {
                name: coverage_curve(certainties(p, scores[name])[ranking], p.argmax(1) == y)
                for name, (p, y) in subsets.items()
            }
            for ranking in RANKINGS
        },
        "wall_s": time.time() - started,
    }
    return write(TrustEvaluation, out, report)
