"""When to trust a prediction: conformal prediction sets and the referral threshold, both fitted on validation.

Prediction sets follow Adaptive Prediction Sets (APS; Romano et al., NeurIPS 2020; Angelopoulos et al., ICLR
2021), without randomisation so that a scan always gets the same set: classes are added from the most to the
least probable until their probabilities sum to at least `qhat`, the conformal quantile of the validation
scores. On scans exchangeable with validation the set holds the true class with probability >= 1 - alpha;
on scans from another source it need not, and the evaluation says by how much it falls short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ALPHA = 0.1  # 90 % prediction sets
REFERRED_SHARE = 0.2  # the least confident fifth of validation scans sets the referral threshold


def aps_scores(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Non-conformity of each (scan, true class): the probability mass of the classes ranked up to and including
    the true one."""
    order = np.argsort(-probabilities, axis=1, kind="stable")
    ranked = np.take_along_axis(probabilities, order, axis=1)
    cumulative = np.cumsum(ranked, axis=1)
    rank_of_label = np.argmax(order == labels[:, None], axis=1)
    return cumulative[np.arange(len(labels)), rank_of_label]


def conformal_quantile(scores: np.ndarray, alpha: float = ALPHA) -> float:
    """The ceil((n + 1)(1 - alpha))-th smallest score (split conformal prediction's finite-sample rule); past n,
    every class (1.0)."""
    rank = math.ceil((len(scores) + 1) * (1 - alpha))
    return float(np.sort(scores)[rank - 1]) if rank <= len(scores) else 1.0


def prediction_set(probabilities: np.ndarray, qhat: float) -> list[int]:
    """Class indices from the most probable down, until their probabilities reach `qhat` (at least one)."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")
    cumulative = np.cumsum(np.asarray(probabilities)[order])
    size = int(np.searchsorted(cumulative, qhat - 1e-12) + 1)
    return [int(i) for i in order[: min(size, len(order))]]


def referral_threshold(confidences: np.ndarray, share: float = REFERRED_SHARE) -> float:
    """The confidence below which the least confident `share` of validation scans fall."""
    return float(np.quantile(confidences, share))


@dataclass(frozen=True)
class Trust:
    """What the committed trust file says, for one prediction."""

    qhat: float
    referral_threshold: float

    def set_for(self, probabilities: np.ndarray) -> list[int]:
        return prediction_set(probabilities, self.qhat)

    def referred(self, confidence: float) -> bool:
        return confidence < self.referral_threshold
