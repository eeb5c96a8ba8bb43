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
average over a mix dominated by one source. A type is the sequence, whether the skull was stripped, and the plane.
A type with fewer than `MIN_VALIDATED` validation scans, or whose validation scans are mostly validation scans
skull-stripped by us (the stand-in where real ones are missing), is unvalidated: its answers are always referred,
with the full set, and no other type's figure is quoted for it (the renders' own figure is, labelled as such).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
from scipy.stats import beta

from model.core.scan_type import SEQUENCES, UNSURE, ScanType
from model.core.volume import PLANES, Plane
from model.schema.card import ModelCard
from model.schema.records import ScanTypeThresholds, TrustEvaluation, load

CONFIDENT = 0.9  # an answer this confident is never called "low confidence", even when its type refers it
MIN_VALIDATED = 30  # validation scans a scan type needs for figures of its own; fewer and it is unvalidated
# A type whose validation scans are mostly our own skull-stripped renders is unvalidated too: the renders are what a
# crude stripper gives, not what a research pipeline gives, so they describe that type without vouching for it.
MAX_RENDERED_SHARE = 0.5
# 95 % sets: a Mondrian group needs at least 1/alpha - 1 calibration scans for a set smaller than every class, and
# the smallest sequence group of validation has about 60 (99 % sets would need 99).
ALPHA = 0.05
REFERRED_SHARE = 0.2  # at least the least confident fifth of each group's validation scans is referred...
MIN_KEPT_ACCURACY = 0.9  # ...and more if needed for the rest to be right this often on validation, not only on
# average: the one-sided Clopper-Pearson bound at 1 - alpha, since a type's threshold is fitted on a few hundred scans
# and a plain average over them overstated what unseen scans keep (T1 kept right 75 % of the time on held-out halves
# of validation, where the fit asked 90 %). Where no threshold meets the bound, every answer of the type is referred.
REFER_ALL = math.nextafter(1.0, 2.0)  # above every probability


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


def kept_accuracy_bound(right_kept: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """The one-sided 1 - `ALPHA` Clopper-Pearson lower bound on the accuracy of `kept` scans, `right_kept` of them
    right."""
    return np.where(right_kept > 0, beta.ppf(ALPHA, np.maximum(right_kept, 1), kept - right_kept + 1), 0.0)


def accurate_referral_threshold(confidences: np.ndarray, right: np.ndarray) -> float:
    """`referral_threshold`, raised until the validation scans kept are right `MIN_KEPT_ACCURACY` of the time by the
    lower bound (`REFER_ALL` where no threshold gets there)."""
    order = np.argsort(-confidences, kind="stable")
    bound = kept_accuracy_bound(np.cumsum(right[order]), np.arange(1, len(order) + 1))
    meeting = np.flatnonzero(bound >= MIN_KEPT_ACCURACY)
    accurate = float(confidences[order][meeting[-1]]) if meeting.size else REFER_ALL
    return max(referral_threshold(confidences), accurate)


def _type_thresholds(
    scores: np.ndarray, confidence: np.ndarray, right: np.ndarray, sources: np.ndarray | None
) -> tuple[float, float]:
    """(conformal quantile, referral threshold) of one type's scans; with `sources`, the highest over the whole type
    and each source with at least `MIN_VALIDATED` of its scans, so that both hold for the worst such source."""
    parts = [np.ones(len(scores), bool)]
    if sources is not None:
        parts += [sources == s for s in sorted(set(sources)) if (sources == s).sum() >= MIN_VALIDATED]
    return (
        max(conformal_quantile(scores[part]) for part in parts),
        max(accurate_referral_threshold(confidence[part], right[part]) for part in parts),
    )


def mondrian_fit(
    probabilities: np.ndarray,
    labels: np.ndarray,
    types: np.ndarray,
    rendered: np.ndarray | None = None,
    sources: np.ndarray | None = None,
) -> dict[str, ScanTypeThresholds]:
    """Per scan type: its validation scans' count, conformal quantile, referral threshold (worst source's, with
    `sources`), accuracy and the share of them that are our own skull-stripped renders (`rendered`, a flag per
    scan)."""
    scores, confidence = conformity_scores(probabilities, labels), probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    rendered = np.zeros(len(labels), bool) if rendered is None else rendered
    fitted = {}
    for kind in sorted(set(types)):
        of_kind = types == kind
        qhat, threshold = _type_thresholds(
            scores[of_kind], confidence[of_kind], right[of_kind], None if sources is None else sources[of_kind]
        )
        fitted[str(kind)] = ScanTypeThresholds(
            n=int(of_kind.sum()),
            qhat=qhat,
            referral_threshold=threshold,
            accuracy=float(right[of_kind].mean()),
            rendered_share=float(rendered[of_kind].mean()),
        )
    return fitted


STRIPPED = "stripped"  # the word a cell's key carries for skull-stripped scans


def type_key(scan_type: ScanType | None) -> str:
    """The cell the trust layer conditions on: the sequence, whether the skull was stripped, and the plane
    ("T1C+ stripped coronal"; "" unknown)."""
    if scan_type is None:
        return ""
    return " ".join([scan_type.sequence, *([STRIPPED] if scan_type.skull_stripped else []), scan_type.plane.value])


def key_type(key: str) -> ScanType | None:
    """The scan type a cell's key names (`type_key` read back), or None for a key it cannot have written."""
    sequence, *rest = key.split(" ")
    stripped = rest[:1] == [STRIPPED]
    plane = rest[1:] if stripped else rest
    if sequence not in (*SEQUENCES, UNSURE) or len(plane) != 1 or plane[0] not in PLANES:
        return None
    return ScanType(sequence, 1.0, stripped, 1.0, Plane(plane[0]))


class Reason(StrEnum):
    """Why an answer is referred, most serious first; the words are `model.report.trust_report`'s."""

    NOT_MRI = "not like a training MRI"
    UNVALIDATED = "not validated on this kind of scan"
    OFTEN_WRONG = "this kind of scan is often misclassified"
    LOW_CONFIDENCE = "low confidence"


@dataclass(frozen=True)
class Decision:
    """What the trust layer says of one answer: its set, whether it is referred and why, with the figure the
    reason quotes (the type's validation accuracy, or the answer's confidence)."""

    members: list[int]
    reason: Reason | None
    figure: float | None = None

    @property
    def referred(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class Trust:
    """What the committed trust file says, for one prediction: per scan type, else pooled."""

    qhat: float
    referral_threshold: float
    by_type: dict[str, ScanTypeThresholds] = field(default_factory=dict)

    @classmethod
    def from_report(cls, report: TrustEvaluation) -> "Trust":
        return cls(float(report.qhat), float(report.referral_threshold), report.mondrian)

    def fitted(self, key: str) -> ScanTypeThresholds | None:
        """The type's own figures when it has enough validation scans; None for an unvalidated type. Without any
        per-type fit (a pooled file), every type uses the pooled figures."""
        if not self.by_type:
            return ScanTypeThresholds(0, self.qhat, self.referral_threshold)
        fitted = self.by_type.get(key)
        validated = fitted is not None and fitted.n >= MIN_VALIDATED and fitted.rendered_share <= MAX_RENDERED_SHARE
        return fitted if validated else None

    def rendered(self, key: str) -> ScanTypeThresholds | None:
        """An unvalidated type's figures on validation scans skull-stripped by us, when there are enough: said
        beside "not validated", never used to keep an answer."""
        fitted = self.by_type.get(key)
        enough = fitted is not None and fitted.n >= MIN_VALIDATED and fitted.rendered_share > MAX_RENDERED_SHARE
        return fitted if enough else None

    def decide(self, probabilities: np.ndarray, scan_type: ScanType | None, not_mri: bool = False) -> Decision:
        """The set, and the first reason that applies: not an MRI, unvalidated type (the full set), a type the
        model is often wrong on, or an answer below its type's threshold."""
        return self.decide_for(probabilities, type_key(scan_type), not_mri)

    def decide_for(self, probabilities: np.ndarray, key: str, not_mri: bool = False) -> Decision:
        """`decide` for a scan type given by its `type_key`."""
        probabilities = np.asarray(probabilities)
        if not_mri:
            return Decision([], Reason.NOT_MRI)
        fitted = self.fitted(key)
        if fitted is None:
            return Decision([int(i) for i in np.argsort(-probabilities, kind="stable")], Reason.UNVALIDATED)
        members, confidence = prediction_set(probabilities, fitted.qhat), float(probabilities.max())
        if confidence >= fitted.referral_threshold:
            return Decision(members, None)
        often_wrong = fitted.accuracy is not None and fitted.accuracy < MIN_KEPT_ACCURACY
        if fitted.referral_threshold > 1.0 and not often_wrong:  # right often, on too few scans to vouch for it
            return Decision(members, Reason.UNVALIDATED)
        if fitted.accuracy is not None and (often_wrong or confidence >= CONFIDENT):
            return Decision(members, Reason.OFTEN_WRONG, fitted.accuracy)
        return Decision(members, Reason.LOW_CONFIDENCE, confidence)


def committed_trust(artifact_dir: Path, card: ModelCard) -> Trust | None:
    """The artifact's committed sets and thresholds, if they were fitted for these weights."""
    report = load(TrustEvaluation, artifact_dir)
    return Trust.from_report(report) if report is not None and card.describes(report.artifact_sha256) else None
