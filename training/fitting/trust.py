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

from model.core.batch import batches
from model.core.predict import BATCH, Classifier, Prediction
from model.core.trust import ALPHA, REFERRED_SHARE, Trust, mondrian_fit, type_key
from model.report.trust_report import RANKINGS
from model.schema.card import load_card
from model.schema.records import Evaluation, ScanTypeThresholds, ScoredScan, TrustEvaluation, load, write
from training.data.split import split_of
from training.fitting.scan_type import as_is_and_stripped

STRIPPED_BY_US = "skull-stripped by us"


@dataclass(frozen=True)
class Scored:
    """Calibrated probabilities, guard scores, labels, recognised scan types (`type_key`), true validation groups,
    and which scans are validation scans skull-stripped by us."""

    probabilities: np.ndarray
    guard_scores: np.ndarray
    labels: np.ndarray
    types: np.ndarray
    groups: np.ndarray  # source x sequence (validation; "<group> stripped by us" for the renders); else the subset
    rendered: np.ndarray

    @property
    def sources(self) -> np.ndarray:
        """The source of each scan ("sartaj", "feltrin-dev"...), read off its group."""
        return np.array([group.split(" ")[0].split("/")[0] for group in self.groups])


def validation_scored(
    classifier: Classifier, data_dir: Path, extra_data_dirs: Sequence[Path] = ()
) -> tuple[Scored, np.ndarray]:
    """The validation images of every source of the run (or of `extra_data_dirs` too, for a model trained on Sartaj
    alone: their validation split is held out from it all the same) through the app's path, each as it is and
    skull-stripped by us (the stand-in for the skull-stripped scans validation lacks), with their related-image
    groups."""
    split = split_of(classifier.card, data_dir, extra_data_dirs)
    paths = [split.samples[i].path for i in split.val_idx]
    predictions: list[Prediction] = []
    chunks = batches(as_is_and_stripped(paths, classifier.card.image_size), BATCH)
    for chunk in tqdm(chunks, total=-(-2 * len(paths) // BATCH), desc="validation", unit="batch"):
        predictions += classifier.predict_inputs(np.stack(chunk))
    groups = split.validation_groups
    scored = Scored(
        np.array([p.probabilities for p in predictions]),
        np.array([np.nan if p.ood_score is None else p.ood_score for p in predictions]),
        np.repeat(split.labels[split.val_idx], 2),
        np.array([type_key(p.scan_type) for p in predictions]),
        np.ravel(np.column_stack([groups, [f"{g} {STRIPPED_BY_US}" for g in groups]])),
        np.tile([False, True], len(paths)),
    )
    return scored, np.repeat(split.groups[split.val_idx], 2)


def testing_scored(rows: list[ScoredScan], name: str) -> Scored:
    return Scored(
        np.array([r.probabilities for r in rows]),
        np.array([np.nan if r.ood_score is None else r.ood_score for r in rows]),
        np.array([r.label for r in rows]),
        np.array([r.scan_type or "" for r in rows]),
        np.array([name] * len(rows)),
        np.zeros(len(rows), bool),
    )


def decisions(trust: Trust, scored: Scored) -> tuple[list[list[int]], np.ndarray]:
    """Each scan's prediction set and whether it is referred, by the scan type's Mondrian fit."""
    found = [trust.decide_for(p, kind) for p, kind in zip(scored.probabilities, scored.types)]
    return [d.members for d in found], np.array([d.referred for d in found])


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


def held_out(scored: Scored, related: np.ndarray, seed: int, by: np.ndarray, worst_source: bool) -> dict[str, Any]:
    """Coverage and referral per value of `by` (validation group, or scan type) on held-out halves: the sets and
    thresholds fitted on one half of validation (related images together) and applied to the other, both ways
    (cross-conformal)."""
    sets: list[list[int]] = [[] for _ in scored.labels]
    referred = np.zeros(len(scored.labels), bool)
    halves = GroupKFold(n_splits=2, shuffle=True, random_state=seed).split(scored.labels, groups=related)
    for fit_on, apply_to in halves:
        trust = Trust(0.0, 0.0, fitted_rule(_rows(scored, fit_on), worst_source))
        half_sets, half_referred = decisions(trust, _rows(scored, apply_to))
        for index, members, flag in zip(apply_to, half_sets, half_referred):
            sets[index], referred[index] = members, flag
    return {
        str(g): summary(
            _rows(scored, np.flatnonzero(by == g)),
            [sets[i] for i in np.flatnonzero(by == g)],
            referred[by == g],
        )
        for g in sorted(set(by))
    }


def fitted_rule(scored: Scored, worst_source: bool) -> dict[str, ScanTypeThresholds]:
    """The Mondrian sets and thresholds of `scored` (validation, with its renders), by the rule in force."""
    sources = scored.sources if worst_source else None
    return mondrian_fit(scored.probabilities, scored.labels, scored.types, scored.rendered, sources)


def unseen_sources(scored: Scored, worst_source: bool) -> dict[str, Any]:
    """Per source: the sets and referral fitted on the other sources' validation scans (as they are and stripped by
    us), applied to this source's scans as they are: how they hold at a hospital the fit never saw."""
    sources, found = scored.sources, {}
    for held_out in sorted(set(sources)):
        trust = Trust(0.0, 0.0, fitted_rule(_rows(scored, np.flatnonzero(sources != held_out)), worst_source))
        target = _rows(scored, np.flatnonzero((sources == held_out) & ~scored.rendered))
        found[held_out] = summary(target, *decisions(trust, target))
    return found


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
    data_dir: Path, artifact_dir: Path, out: Path, extra_data_dirs: Sequence[Path] = (), worst_source: bool = False
) -> TrustEvaluation:
    """Fits the Mondrian sets and referral thresholds on validation, each type's pooled over sources (rule A of
    training/PREREGISTRATION.md, 2026-12-03, which ships) or for its worst source (rule B); scores them on held-out
    halves, at each source unseen by the fit, and on Testing."""
    started = time.time()
    card, classifier = load_card(artifact_dir), Classifier.from_artifact(artifact_dir)
    validation, related = validation_scored(classifier, data_dir, extra_data_dirs)
    as_is = _rows(validation, np.flatnonzero(~validation.rendered))
    pooled = mondrian_fit(as_is.probabilities, as_is.labels, np.array(["all"] * len(as_is.labels)))
    trust = Trust(pooled["all"].qhat, pooled["all"].referral_threshold, fitted_rule(validation, worst_source))
    testing = load(Evaluation, artifact_dir)
    if testing is None or not card.describes(testing.artifact_sha256):
        raise ValueError("no evaluation of these weights is committed; run `python -m training evaluate`")
    subsets = {
        "validation": as_is,
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
        "groups": held_out(validation, related, card.settings().seed, validation.groups, worst_source),
        "types": held_out(validation, related, card.settings().seed, validation.types, worst_source),
        "unseen_sources": unseen_sources(validation, worst_source),
        "worst_source_rule": worst_source,
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
