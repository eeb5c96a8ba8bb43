"""`python -m training trust`: fit the prediction sets and the referral threshold on validation, then report
how they hold on Testing (whole and leakage-clean), where they were never fitted.

Validation probabilities come from the app's own classification path (decode, preprocess, ONNX Runtime,
temperature) on the run's validation split of Training; Testing probabilities from the committed evaluation.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.model_selection import GroupKFold
from tqdm import tqdm

from model.core.batch import batches, loaded_scans
from model.core.predict import BATCH, Classifier, Prediction
from model.core.scan_type import ScanType
from model.core.trust import ALPHA, REFERRED_SHARE, Trust, mondrian_fit
from model.report.trust_report import RANKINGS
from model.schema.card import load_card
from model.schema.records import Evaluation, ScoredScan, TrustEvaluation, load, write
from training.split import split_of


@dataclass(frozen=True)
class Scored:
    """Calibrated probabilities, guard scores, labels, recognised scan types and true validation groups."""

    probabilities: np.ndarray
    guard_scores: np.ndarray
    labels: np.ndarray
    types: np.ndarray
    groups: np.ndarray  # source x sequence (validation); the subset's name elsewhere


def validation_scored(
    classifier: Classifier, data_dir: Path, extra_data_dirs: Sequence[Path] = ()
) -> tuple[Scored, np.ndarray]:
    """The validation images of every source of the run (or of `extra_data_dirs` too, for a model trained on Sartaj
    alone: their validation split is held out from it all the same) through the app's path, with their
    related-image groups."""
    split = split_of(classifier.card, data_dir, extra_data_dirs)
    paths = [split.samples[i].path for i in split.val_idx]
    predictions: list[Prediction] = []
    chunks = batches(loaded_scans(paths, classifier.card.image_size), BATCH)
    for chunk in tqdm(chunks, total=-(-len(paths) // BATCH), desc="validation", unit="batch"):
        unreadable = [str(scan.file) for scan in chunk if scan.model_input is None]
        if unreadable:
            raise ValueError(f"validation scans that cannot be read: {unreadable}")
        predictions += classifier.predict_inputs(np.stack([scan.model_input for scan in chunk]))
    scored = Scored(
        np.array([p.probabilities for p in predictions]),
        np.array([np.nan if p.ood_score is None else p.ood_score for p in predictions]),
        split.labels[split.val_idx],
        np.array([_type_of(p.scan_type) for p in predictions]),
        split.validation_groups,
    )
    return scored, split.groups[split.val_idx]


def _type_of(scan_type: ScanType | None) -> str:
    return "" if scan_type is None else scan_type.sequence


def testing_scored(rows: list[ScoredScan], name: str) -> Scored:
    return Scored(
        np.array([r.probabilities for r in rows]),
        np.array([np.nan if r.ood_score is None else r.ood_score for r in rows]),
        np.array([r.label for r in rows]),
        np.array([r.scan_type or "" for r in rows]),
        np.array([name] * len(rows)),
    )


def decisions(trust: Trust, scored: Scored) -> tuple[list[list[int]], np.ndarray]:
    """Each scan's prediction set and whether it is referred, by the scan type's Mondrian fit."""
    sets = [trust.set_for(p, kind) for p, kind in zip(scored.probabilities, scored.types)]
    referred = np.array([trust.referred(p.max(), kind) for p, kind in zip(scored.probabilities, scored.types)])
    return sets, referred


def summary(scored: Scored, sets: list[list[int]], referred: np.ndarray) -> dict[str, Any]:
    """Coverage and size of the sets, and what referral keeps, of one subset."""
    sizes = np.array([len(s) for s in sets])
    right, kept = scored.probabilities.argmax(1) == scored.labels, ~referred
    return {
        "n": int(len(sets)),
        "coverage": float(np.mean([y in s for y, s in zip(scored.labels, sets)])),
        "mean_size": float(sizes.mean()),
        "size_counts": {str(k): int((sizes == k).sum()) for k in range(1, scored.probabilities.shape[1] + 1)},
        "referred_share": float(referred.mean()),
        "accuracy_all": float(right.mean()),
        "accuracy_kept": float(right[kept].mean()) if kept.any() else None,
        "accuracy_referred": float(right[referred].mean()) if referred.any() else None,
    }


def held_out_groups(scored: Scored, related: np.ndarray, seed: int) -> dict[str, Any]:
    """Each validation group's coverage and referral on held-out halves: the sets and thresholds fitted on one half
    of validation (related images together) and applied to the other, both ways (cross-conformal)."""
    sets: list[list[int]] = [[] for _ in scored.labels]
    referred = np.zeros(len(scored.labels), bool)
    halves = GroupKFold(n_splits=2, shuffle=True, random_state=seed).split(scored.labels, groups=related)
    for fit_on, apply_to in halves:
        part = _rows(scored, fit_on)
        trust = Trust(0.0, 0.0, mondrian_fit(part.probabilities, part.labels, part.types))
        half_sets, half_referred = decisions(trust, _rows(scored, apply_to))
        for index, members, flag in zip(apply_to, half_sets, half_referred):
            sets[index], referred[index] = members, flag
    return {
        str(g): summary(
            _rows(scored, np.flatnonzero(scored.groups == g)),
            [sets[i] for i in np.flatnonzero(scored.groups == g)],
            referred[scored.groups == g],
        )
        for g in sorted(set(scored.groups))
    }


def _rows(scored: Scored, index: np.ndarray) -> Scored:
    return Scored(*(getattr(scored, f.name)[index] for f in fields(Scored)))


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


def evaluate_trust(
    data_dir: Path, artifact_dir: Path, out: Path, extra_data_dirs: Sequence[Path] = ()
) -> TrustEvaluation:
    """Fits the Mondrian sets and referral thresholds on validation; scores them on held-out halves and Testing."""
    started = time.time()
    card, classifier = load_card(artifact_dir), Classifier.from_artifact(artifact_dir)
    validation, related = validation_scored(classifier, data_dir, extra_data_dirs)
    pooled = mondrian_fit(validation.probabilities, validation.labels, np.array(["all"] * len(validation.labels)))
    trust = Trust(
        pooled["all"].qhat,
        pooled["all"].referral_threshold,
        mondrian_fit(validation.probabilities, validation.labels, validation.types),
    )
    testing = load(Evaluation, artifact_dir)
    if testing is None or not card.describes(testing.artifact_sha256):
        raise ValueError("no evaluation of these weights is committed; run `python -m training evaluate`")
    subsets = {
        "validation": validation,
        "testing": testing_scored(testing.images, "testing"),
        "testing_leakage_clean": testing_scored([r for r in testing.images if not r.leaked], "testing"),
    }
    summaries = {name: summary(scored, *decisions(trust, scored)) for name, scored in subsets.items()}
    report = {
        "artifact_sha256": card.weights_sha256,
        "alpha": ALPHA,
        "qhat": trust.qhat,
        "referred_share_on_validation": REFERRED_SHARE,
        "referral_threshold": trust.referral_threshold,
        "mondrian": {kind: asdict(fitted) for kind, fitted in trust.by_type.items()},
        "groups": held_out_groups(validation, related, card.settings().seed),
        "sets": {
            name: {k: row[k] for k in ("n", "coverage", "mean_size", "size_counts")} for name, row in summaries.items()
        },
        "referral": {
            name: {k: row[k] for k in ("n", "referred_share", "accuracy_all", "accuracy_kept", "accuracy_referred")}
            for name, row in summaries.items()
        },
        "coverage_curves": {
            ranking: {
                name: coverage_curve(
                    certainties(scored.probabilities, scored.guard_scores)[ranking],
                    scored.probabilities.argmax(1) == scored.labels,
                )
                for name, scored in subsets.items()
            }
            for ranking in RANKINGS
        },
        "wall_s": time.time() - started,
    }
    return write(TrustEvaluation, out, report)
