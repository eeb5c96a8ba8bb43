"""Which kind of scan is this? The MRI sequence (T1, T1 with contrast, T2, FLAIR, or other / unsure), whether
the skull has been stripped, and the plane (axial, coronal, sagittal), read off the features the guard already scores
(`model.core.ood.pooled_frozen_features`).

Three linear models on standardised features: multinomial logistic regressions over the known sequences and over the
planes, and a logistic regression for skull-stripped views. A scan whose top sequence probability is below
`unsure_below` is "other / unsure": diffusion, proton density, a sequence the recogniser has never seen, or a scan it
cannot place. Where the file itself says the plane (a volume's cut, a DICOM's orientation) that plane is used instead
(`ScanType.in_plane`). Fitted by `python -m training scan-type` on held-out case groups; NumPy only, so the app needs
no TensorFlow for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.special import expit, softmax

from model.core.stored import load_fields, save_fields
from model.core.volume import PLANES, Plane

SEQUENCES = ("T1", "T1C+", "T2", "FLAIR")
UNSURE = "other"  # a sequence the recogniser cannot place


@dataclass(frozen=True)
class ScanType:
    sequence: str  # one of SEQUENCES, or UNSURE
    sequence_probability: float  # of the most likely known sequence
    skull_stripped: bool
    skull_stripped_probability: float
    plane: Plane = Plane.AXIAL
    plane_probability: float = 1.0  # 1.0 where the file says the plane

    def in_plane(self, plane: Plane | None) -> "ScanType":
        """This scan type in the plane the file says (None: as recognised)."""
        return self if plane is None else replace(self, plane=plane, plane_probability=1.0)


@dataclass
class ScanTypeModel:
    mean: np.ndarray  # (D,) feature standardisation
    scale: np.ndarray  # (D,)
    sequence_coef: np.ndarray  # (len(SEQUENCES), D)
    sequence_intercept: np.ndarray  # (len(SEQUENCES),)
    stripped_coef: np.ndarray  # (D,)
    stripped_intercept: float
    plane_coef: np.ndarray  # (len(PLANES), D)
    plane_intercept: np.ndarray  # (len(PLANES),)
    unsure_below: float  # top sequence probability under which a scan is UNSURE

    def _standardised(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, np.float64) - self.mean) / self.scale

    def sequence_probabilities(self, features: np.ndarray) -> np.ndarray:
        return softmax(self._standardised(features) @ self.sequence_coef.T + self.sequence_intercept, axis=1)

    def stripped_probabilities(self, features: np.ndarray) -> np.ndarray:
        return expit(self._standardised(features) @ self.stripped_coef + self.stripped_intercept)

    def plane_probabilities(self, features: np.ndarray) -> np.ndarray:
        return softmax(self._standardised(features) @ self.plane_coef.T + self.plane_intercept, axis=1)

    def recognise(self, features: np.ndarray) -> list[ScanType]:
        sequences, stripped = self.sequence_probabilities(features), self.stripped_probabilities(features)
        planes = self.plane_probabilities(features)
        return [
            ScanType(
                SEQUENCES[int(row.argmax())] if row.max() >= self.unsure_below else UNSURE,
                float(row.max()),
                bool(p >= 0.5),
                float(p),
                PLANES[int(plane.argmax())],
                float(plane.max()),
            )
            for row, p, plane in zip(sequences, stripped, planes)
        ]

    def save(self, path: Path) -> None:
        save_fields(self, path)

    @classmethod
    def load(cls, path: Path) -> "ScanTypeModel":
        return load_fields(cls, path)
