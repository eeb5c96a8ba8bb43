""""Is this a brain MRI like the training scans?": a Mahalanobis guard on the model's own features.

The pooled penultimate features of the Training images are projected on their
top principal components; an input's score is its smallest class-conditional
Mahalanobis distance there (shared covariance, Lee et al. 2018). The threshold
is a high percentile of the validation scores, so about that share of real
scans is flagged by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

OOD_COMPONENTS = 64
OOD_PERCENTILE = 99.0


@dataclass
class OODDetector:
    mean: np.ndarray  # (D,) feature mean for the PCA
    components: np.ndarray  # (K, D)
    class_means: np.ndarray  # (C, K) in PCA space
    precision: np.ndarray  # (K, K) shared inverse covariance
    threshold: float

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, validation_features: np.ndarray,
            components: int = OOD_COMPONENTS, percentile: float = OOD_PERCENTILE) -> "OODDetector":
        from sklearn.covariance import LedoitWolf
        from sklearn.decomposition import PCA

        pca = PCA(n_components=min(components, features.shape[0] - 1, features.shape[1]), random_state=0).fit(features)
        projected = pca.transform(features)
        classes = np.unique(labels)
        class_means = np.stack([projected[labels == c].mean(axis=0) for c in classes])
        centred = projected - class_means[np.searchsorted(classes, labels)]
        precision = LedoitWolf().fit(centred).precision_
        detector = cls(pca.mean_.astype(np.float32), pca.components_.astype(np.float32),
                       class_means.astype(np.float32), precision.astype(np.float32), threshold=np.inf)
        detector.threshold = float(np.percentile(detector.score(validation_features), percentile))
        return detector

    def score(self, features: np.ndarray) -> np.ndarray:
        projected = (np.asarray(features, dtype=np.float32) - self.mean) @ self.components.T
        differences = projected[:, None, :] - self.class_means[None, :, :]
        squared = np.einsum("nck,kl,ncl->nc", differences, self.precision, differences)
        return np.sqrt(np.maximum(squared.min(axis=1), 0.0))

    def is_out_of_distribution(self, features: np.ndarray) -> np.ndarray:
        return self.score(features) > self.threshold

    def save(self, path: Path) -> None:
        with open(path, "wb") as handle:
            np.savez(handle, mean=self.mean, components=self.components, class_means=self.class_means,
                     precision=self.precision, threshold=np.array(self.threshold))

    @classmethod
    def load(cls, path: Path) -> "OODDetector":
        with np.load(path, allow_pickle=False) as stored:
            return cls(stored["mean"], stored["components"], stored["class_means"], stored["precision"],
                       float(stored["threshold"]))
