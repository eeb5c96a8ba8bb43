"""When to trust a prediction: conformal prediction sets and the referral threshold, both fitted on validation.

Split conformal prediction with the least-ambiguous score (Sadinle, Lei and Wasserman, JASA 2019; the "LAC"
score in Angelopoulos et al., ICLR 2021): a class joins the set when its calibrated probability is at least
1 - qhat, qhat being the conformal quantile of 1 - p(true class) on validation. Sets are deterministic and
the smallest on average among sets with the guarantee; Adaptive Prediction Sets were tried first and, without
randomisation, gave 2.8 classes on average at 90 % for a model this confident (see the commit history).
On scans exchangeable with validation a set holds the true class with probability >= 1 - alpha; on scans from
another source it need not, and the evaluation says by how much it falls short.

The sets and the referral threshold are Mondrian (Vovk et al. 2003; Vovk, "Conditional validity of inductive
conformal predictors", 2012): fitted separately for each scan type the recogniser reports (`model.scan_type`), on
validation scans of every training source, so that the guarantee holds within each type rather than only on
average over a mix dominated by one source. A type with no validation scans falls back to the pooled figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.card import ModelCard
from model.i18n import N_, SOURCE_LANGUAGE, _, language, number, pct
from model.records import TrustEvaluation, load

# 95 % sets: a Mondrian group needs at least 1/alpha - 1 calibration scans for a set smaller than every class, and
# the smallest sequence group of validation has about 60 (99 % sets would need 99).
ALPHA = 0.05
REFERRED_SHARE = 0.2  # at least the least confident fifth of each group's validation scans is referred...
MIN_KEPT_ACCURACY = 0.9  # ...and more if needed for the rest to be right this often on validation
# Selective prediction ranks scans by one of these, most certain first (training/trust.py computes each).
RANKINGS = (N_("confidence"), N_("margin"), N_("guard score"))
RANKING_HELP = N_(
    "Confidence: the top calibrated probability. Margin: the top probability minus the runner-up's. Guard score: "
    "how typical the scan looks to the not-an-MRI guard (its distance to the training scans, smallest first)."
)


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


def mondrian_fit(probabilities: np.ndarray, labels: np.ndarray, types: np.ndarray) -> dict[str, dict[str, float]]:
    """Per scan type: its validation scans' count, conformal quantile and referral threshold."""
    scores, confidence = conformity_scores(probabilities, labels), probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    return {
        str(kind): {
            "n": int((types == kind).sum()),
            "qhat": conformal_quantile(scores[types == kind]),
            "referral_threshold": accurate_referral_threshold(confidence[types == kind], right[types == kind]),
        }
        for kind in sorted(set(types))
    }


@dataclass(frozen=True)
class Trust:
    """What the committed trust file says, for one prediction: per scan type, else pooled."""

    qhat: float
    referral_threshold: float
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def from_report(cls, report: TrustEvaluation) -> "Trust":
        return cls(float(report.qhat), float(report.referral_threshold), report.mondrian)

    def _of(self, scan_type: str | None) -> tuple[float, float]:
        fitted = self.by_type.get(scan_type or "")
        return (
            (self.qhat, self.referral_threshold) if fitted is None else (fitted["qhat"], fitted["referral_threshold"])
        )

    def set_for(self, probabilities: np.ndarray, scan_type: str | None = None) -> list[int]:
        return prediction_set(probabilities, self._of(scan_type)[0])

    def referred(self, confidence: float, scan_type: str | None = None) -> bool:
        return confidence < self._of(scan_type)[1]


def committed_trust(artifact_dir: Path, card: ModelCard) -> Trust | None:
    """The artifact's committed sets and thresholds, if they were fitted for these weights."""
    report = load(TrustEvaluation, artifact_dir)
    return Trust.from_report(report) if report is not None and card.describes(report.artifact_sha256) else None


def set_label(report: TrustEvaluation) -> str:
    """The column and line label of a prediction set, e.g. "90 % set"."""
    level = pct(1 - report.alpha, 0)
    return _("{level} set").format(level=level.replace("%", " %") if language() == SOURCE_LANGUAGE else level)


def caveat(report: TrustEvaluation) -> str:
    """How far the sets and the confidence carry to scans from other sources, from the committed trust check."""
    sets, referral = report.sets, report.referral
    clean, clean_referral = sets["testing_leakage_clean"], referral["testing_leakage_clean"]
    values = {
        "level": pct(1 - report.alpha, 0),
        "validation": pct(sets["validation"]["coverage"], 0),
        "n": clean["n"],
        "clean": pct(clean["coverage"], 0),
        "size": number(clean["mean_size"], 1),
        "threshold": pct(report.referral_threshold, 0),
        "share": pct(report.referred_share_on_validation, 0),
        "accurate": pct(MIN_KEPT_ACCURACY, 0),
        "referred": pct(clean_referral["referred_share"], 0),
        "kept": "–" if clean_referral["accuracy_kept"] is None else pct(clean_referral["accuracy_kept"], 0),
        "all": pct(clean_referral["accuracy_all"], 0),
    }
    if report.mondrian:
        return _(
            "The {level} sets and the referral thresholds are fitted for each scan type on validation scans of every "
            "source, where the sets held the true class for {validation}; on new test scans from another source "
            "(the leakage-clean subset, {n} scans) they held it for {clean}, with {size} classes on average. Each "
            "type refers at least its least certain {share} of validation scans, more until the rest is {accurate} "
            "right: on the new test scans {referred} were referred, and the model was right on {kept} of the rest "
            "(all: {all})."
        ).format(**values)
    return _(
        "The {level} sets are fitted on validation scans, where they held the true class for {validation}; on new "
        "test scans from other sources (the leakage-clean subset, {n} scans) they held it for only {clean}, with "
        "{size} classes on average. Scans below {threshold} confidence (the least certain {share} of validation) are "
        "marked for referral: on the new test scans, {referred} were, and the model was right on {kept} of the rest "
        "(all: {all})."
    ).format(**values)


TRUST_SUBSETS = {
    "validation": N_("validation (fitted here)"),
    "testing": N_("Testing, whole split"),
    "testing_leakage_clean": N_("Testing, leakage-clean (new scans)"),
}


def trust_rows(report: TrustEvaluation) -> list[dict[str, str]]:
    """One row per subset: the sets' coverage and size, and what the referral threshold does."""
    rows = []
    for key, label in TRUST_SUBSETS.items():
        sets, referral = report.sets[key], report.referral[key]
        rows.append(
            {
                _("scans"): _(label),
                _("images"): str(sets["n"]),
                _("{label} coverage").format(label=set_label(report)): pct(sets["coverage"]),
                _("mean set size"): number(sets["mean_size"], 2),
                _("referred"): pct(referral["referred_share"]),
                _("accuracy on the rest"): pct(referral["accuracy_kept"]),
                _("accuracy on all"): pct(referral["accuracy_all"]),
            }
        )
    return rows


def group_rows(report: TrustEvaluation) -> list[dict[str, str]]:
    """Per validation group (source x sequence), on held-out halves: the sets' coverage and size, and referral."""
    return [
        {
            _("group"): group,
            _("images"): str(row["n"]),
            _("{label} coverage").format(label=set_label(report)): pct(row["coverage"]),
            _("mean set size"): number(row["mean_size"], 2),
            _("referred"): pct(row["referred_share"]),
            _("accuracy on the rest"): "–" if row["accuracy_kept"] is None else pct(row["accuracy_kept"]),
        }
        for group, row in report.groups.items()
    ]
