"""When to trust a prediction: conformal prediction sets and the referral threshold, both fitted on validation.

Split conformal prediction with the least-ambiguous score (Sadinle, Lei and Wasserman, JASA 2019; the "LAC"
score in Angelopoulos et al., ICLR 2021): a class joins the set when its calibrated probability is at least
1 - qhat, qhat being the conformal quantile of 1 - p(true class) on validation. Sets are deterministic and
the smallest on average among sets with the guarantee; Adaptive Prediction Sets were tried first and, without
randomisation, gave 2.8 classes on average at 90 % for a model this confident (see the commit history).
On scans exchangeable with validation a set holds the true class with probability >= 1 - alpha; on scans from
another source it need not, and the evaluation says by how much it falls short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.i18n import N_, SOURCE_LANGUAGE, _, language, number, pct
from model.records import TrustEvaluation

ALPHA = 0.01  # 99 % sets: at 90 % or 95 % (below the 96 % validation accuracy) every set is a single class
REFERRED_SHARE = 0.2  # the least confident fifth of validation scans sets the referral threshold
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


@dataclass(frozen=True)
class Trust:
    """What the committed trust file says, for one prediction."""

    qhat: float
    referral_threshold: float

    @classmethod
    def from_report(cls, report: TrustEvaluation) -> "Trust":
        return cls(float(report.qhat), float(report.referral_threshold))

    def set_for(self, probabilities: np.ndarray) -> list[int]:
        return prediction_set(probabilities, self.qhat)

    def referred(self, confidence: float) -> bool:
        return confidence < self.referral_threshold


def set_label(report: TrustEvaluation) -> str:
    """The column and line label of a prediction set, e.g. "90 % set"."""
    level = pct(1 - report.alpha, 0)
    return _("{level} set").format(level=level.replace("%", " %") if language() == SOURCE_LANGUAGE else level)


def caveat(report: TrustEvaluation) -> str:
    """How far the sets and the confidence carry to scans from other sources, from the committed trust check."""
    sets, referral = report.sets, report.referral
    clean, clean_referral = sets["testing_leakage_clean"], referral["testing_leakage_clean"]
    return _(
        "The {level} sets are fitted on validation scans, where they held the true class for {validation}; on new "
        "test scans from other sources (the leakage-clean subset, {n} scans) they held it for only {clean}, with "
        "{size} classes on average. Scans below {threshold} confidence (the least certain {share} of validation) are "
        "marked for referral: on the new test scans, {referred} were, and the model was right on {kept} of the rest "
        "(all: {all})."
    ).format(
        level=pct(1 - report.alpha, 0),
        validation=pct(sets["validation"]["coverage"], 0),
        n=clean["n"],
        clean=pct(clean["coverage"], 0),
        size=number(clean["mean_size"], 1),
        threshold=pct(report.referral_threshold, 0),
        share=pct(report.referred_share_on_validation, 0),
        referred=pct(clean_referral["referred_share"], 0),
        kept=pct(clean_referral["accuracy_kept"], 0),
        all=pct(clean_referral["accuracy_all"], 0),
    )


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
