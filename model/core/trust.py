"""When to trust a prediction: conformal prediction sets and the referral threshold, both fitted on validation.

Split conformal prediction with the least-ambiguous score (Sadinle, Lei and Wasserman, JASA 2019; the "LAC"
score in Angelopoulos et al., ICLR 2021): a class joins the set when its calibrated probability is at least
1 - qhat, qhat being the conformal quantile of 1 - p(true class) on validation. Sets are deterministic and
the smallest on average among sets with the guarantee; Adaptive Prediction Sets were tried first and, without
randomisation, gave 2.8 classes on average at 90 % for a model this confident (see the commit history).
On scans exchangeable with validation a set holds the true class with probability >= 1 - alpha; on scans from
another source it need not, and the evaluation says by how much it falls short.

The sets and the referral threshold are Mondrian (Vovk et al. 2003; Vovk, "Conditional validity of inductive
conformal predictors", 2012): fitted separately for each scan type the recogniser reports (`model.core.scan_type`), on
validation scans of every training source, so that the guarantee holds within each type rather than only on
average over a mix dominated by one source. A type with no validation scans falls back to the pooled figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.schema.card import ModelCard
from model.schema.records import ScanTypeThresholds, TrustEvaluation, load

# 95 % sets: a Mondrian group needs at least 1/alpha - 1 calibration scans for a set smaller than every class, and
# the smallest sequence group of validation has about 60 (99 % sets would need 99).
ALPHA = 0.05
REFERRED_SHARE = 0.2  # at least the least confident fifth of each group's validation scans is referred...
MIN_KEPT_ACCURACY = 0.9  # ...and more if needed for the rest to be right this often on validation


def conformity_scores(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Non-conformity of each (scan, true class): 1 - the calibrated probability of the true class."""
    return 1.0 - probabilities[np.arange(len(labels)), labels]


def conformal_quantile(scores: np.ndarray, alpha: float = ALPHA) -> float:
    """The ceil((n + 1)(1 - alpha))-th smallest score (split conformal prediction's finite-sample rule); past n,
    every class (1.0)."""
    rank = math.ceil((len(scores) + 1) * (1 - alpha))
    return float(np.sort(scores)[rank - 1]) if rank <= len(scores) else 1.0


def prediction_set(probabilities: np.ndarray, qhat: float) -> list[int]:
    """Classes with probability >= 1 - qhat, most probable first; never empty (the top class at least)."""
    probabilities = np.asarray(probabilities)
    order = np.argsort(-probabilities, kind="stable")
    members = [int(i) for i in order if probabilities[i] >= 1.0 - qhat - 1e-12]
    return members or [int(order[0])]


def referral_threshold(confidences: np.ndarray, share: float = REFERRED_SHARE) -> float:
    """The confidence below which the least confident `share` of validation scans fall."""
    return float(np.quantile(confidences, share))


def accurate_referral_threshold(confidences: np.ndarray, right: np.ndarray) -> float:
    """`referral_threshold`, raised until the validation scans kept are right `MIN_KEPT_ACCURACY` of the time (or
    only the most confident scan is kept)."""
    order = np.argsort(-confidences, kind="stable")
    kept_accuracy = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    meeting = np.flatnonzero(kept_accuracy >= MIN_KEPT_ACCURACY)
    accurate = float(confidences[order][meeting[-1]]) if meeting.size else float(confidences.max())
    return max(referral_threshold(confidences), accurate)


def mondrian_fit(probabilities: np.ndarray, labels: np.ndarray, types: np.ndarray) -> dict[str, ScanTypeThresholds]:
    """Per scan type: its validation scans' count, conformal quantile and referral threshold."""
    scores, confidence = conformity_scores(probabilities, labels), probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    return {
        str(kind): ScanTypeThresholds(
            n=int((types == kind).sum()),
            qhat=conformal_quantile(scores[types == kind]),
            referral_threshold=accurate_referral_threshold(confidence[types == kind], right[types == kind]),
        )
        for kind in sorted(set(types))
    }


@dataclass(frozen=True)
class Trust:
    """What the committed trust file says, for one prediction: per scan type, else pooled."""

    qhat: float
    referral_threshold: float
    by_type: dict[str, ScanTypeThresholds] = field(default_factory=dict)

    @classmethod
    def from_report(cls, report: TrustEvaluation) -> "Trust":
        return cls(float(report.qhat), float(report.referral_threshold), report.mondrian)

    def _of(self, scan_type: str | None) -> tuple[float, float]:
        fitted = self.by_type.get(scan_type or "")
        return (self.qhat, self.referral_threshold) if fitted is None else (fitted.qhat, fitted.referral_threshold)

    def set_for(self, probabilities: np.ndarray, scan_type: str | None = None) -> list[int]:
        return prediction_set(probabilities, self._of(scan_type)[0])

    def referred(self, confidence: float, scan_type: str | None = None) -> bool:
        return confidence < self._of(scan_type)[1]


def committed_trust(artifact_dir: Path, card: ModelCard) -> Trust | None:
    """The artifact's committed sets and thresholds, if they were fitted for these weights."""
    report = load(TrustEvaluation, artifact_dir)
    return Trust.from_report(report) if report is not None and card.describes(report.artifact_sha256) else None
