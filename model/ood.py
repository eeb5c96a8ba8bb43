""" "Is this a brain MRI like the training scans?": a Mahalanobis guard on the model's own features.

Score = the smallest class-conditional Mahalanobis distance of an input's pooled
penultimate features (Lee et al. 2018), with the shared within-class covariance
modelled as probabilistic PCA (Tipping & Bishop 1999): the top K directions
keep their own variance, the remaining ones share one. The part of a feature
vector that lies outside the training subspace is what gives non-MRI images
away, so it must not be dropped. The threshold is a high percentile of the
validation scores, so about that share of real scans is flagged by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

OOD_COMPONENTS = 256
OOD_PERCENTILE = 99.0


@dataclass
class OODDetector:
    class_means: np.ndarray  # (C, D)
    components: np.ndarray  # (K, D) principal directions of the within-class scatter
    variances: np.ndarray  # (K,) their variances
    noise_variance: float  # variance of every other direction
    threshold: float

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: np.ndarray,
        validation_features: np.ndarray,
        components: int = OOD_COMPONENTS,
        percentile: float = OOD_PERCENTILE,
    ) -> "OODDetector":
        from sklearn.decomposition import PCA

        features = np.asarray(features, dtype=np.float64)
        classes = np.unique(labels)
        means = np.stack([features[labels == c].mean(axis=0) for c in classes])
        centred = features - means[np.searchsorted(classes, labels)]
        k = min(components, centred.shape[0] - 1, centred.shape[1] - 1)
        pca = PCA(n_components=k, random_state=0).fit(centred)
        detector = cls(
            means.astype(np.float32),
            pca.components_.astype(np.float32),
            pca.explained_variance_.astype(np.float32),
            float(max(pca.noise_variance_, 1e-12)),
            threshold=np.inf,
        )
        detector.threshold = float(np.percentile(detector.score(validation_features), percentile))
        return detector

    def score(self, features: np.ndarray) -> np.ndarray:
        differences = np.asarray(features, dtype=np.float32)[:, None, :] - self.class_means[None, :, :]
        projected = differences @ self.components.T
        inside = (projected**2 / self.variances).sum(axis=-1)
        outside = np.maximum((differences**2).sum(axis=-1) - (projected**2).sum(axis=-1), 0.0)
        return np.sqrt((inside + outside / self.noise_variance).min(axis=1))

    def save(self, path: Path) -> None:
        with open(path, "wb") as handle:
            np.savez(
                handle,
                class_means=self.class_means,
                components=self.components,
                variances=self.variances,
                noise_variance=np.array(self.noise_variance),
                threshold=np.array(self.threshold),
            )

    @classmethod
    def load(cls, path: Path) -> "OODDetector":
        with np.load(path, allow_pickle=False) as stored:
            return cls(
                stored["class_means"],
                stored["components"],
                stored["variances"],
                float(stored["noise_variance"]),
                float(stored["threshold"]),
            )
