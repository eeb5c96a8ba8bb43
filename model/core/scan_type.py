"""Which kind of scan is this? The MRI sequence (T1, T1 with contrast, T2, FLAIR, or other / unsure) and whether
the skull has been stripped, read off the features the guard already scores (`model.core.ood.pooled_frozen_features`).

Two linear models on standardised features: a multinomial logistic regression over the known sequences, and a
logistic regression for skull-stripped views. A scan whose top sequence probability is below `unsure_below` is
"other / unsure": diffusion, proton density, a sequence the recogniser has never seen, or a scan it cannot place.
Fitted by `python -m training scan-type` on held-out case groups; NumPy only, so the app needs no TensorFlow for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit, softmax

from model.core.stored import load_fields, save_fields

SEQUENCES = ("T1", "T1C+", "T2", "FLAIR")
UNSURE = "other"  # a sequence the recogniser cannot place


@dataclass(frozen=True)
class ScanType:
    sequence: str  # one of SEQUENCES, or UNSURE
    sequence_probability: float  # of the most likely known sequence
    skull_stripped: bool
    skull_stripped_probability: float


@dataclass
class ScanTypeModel:
    mean: np.ndarray  # (D,) feature standardisation
    scale: np.ndarray  # (D,)
    sequence_coef: np.ndarray  # (len(SEQUENCES), D)
    sequence_intercept: np.ndarray  # (len(SEQUENCES),)
    stripped_coef: np.ndarray  # (D,)
    stripped_intercept: float
    unsure_below: float  # top sequence probability under which a scan is UNSURE

    def sequence_probabilities(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, np.float64) - self.mean) / self.scale
        return softmax(z @ self.sequence_coef.T + self.sequence_intercept, axis=1)

    def stripped_probabilities(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, np.float64) - self.mean) / self.scale
        return expit(z @ self.stripped_coef + self.stripped_intercept)

    def recognise(self, features: np.ndarray) -> list[ScanType]:
        sequences, stripped = self.sequence_probabilities(features), self.stripped_probabilities(features)
        return [
            ScanType(
                SEQUENCES[int(row.argmax())] if row.max() >= self.unsure_below else UNSURE,
                float(row.max()),
                bool(p >= 0.5),
                float(p),
            )
            for row, p in zip(sequences, stripped)
        ]

    def save(self, path: Path) -> None:
        save_fields(self, path)

    @classmethod
    def load(cls, path: Path) -> "ScanTypeModel":
        return load_fields(cls, path)
