""" "Is this a brain MRI like the training scans?": a Mahalanobis guard on the network's frozen layers.

Score = the smallest class-conditional Mahalanobis distance of an input's
globally pooled activations where the frozen part of the network ends (Lee et
al. 2018), with the shared within-class covariance modelled as probabilistic
PCA (Tipping & Bishop 1999): the top K directions keep their own variance, the
remaining ones share one. Those layers keep their ImageNet weights, so the
guard does not move when the top is fine-tuned again; they still describe
photos, text and screenshots, which the fine-tuned top maps onto the four
classes (the guard on its pooled features let a screenshot of the app through).

The threshold lies halfway (geometrically) between the highest validation
scan and the lowest image of the design set of non-MRI images
(`training/data/ood_images.py`), the widest margin both sides allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.core.stored import load_fields, save_fields

OOD_COMPONENTS = 256
GUARD_FEATURES = "spatial means of the activations where the frozen layers end"
THRESHOLD_RULE = "geometric midpoint of the highest validation score and the lowest design non-MRI score"


def pooled_frozen_features(activations: np.ndarray) -> np.ndarray:
    """(N, H, W, C) activations where the frozen layers end -> (N, C) spatial means: what the guard scores."""
    return np.asarray(activations, dtype=np.float32).mean(axis=(1, 2))


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
        non_mri_features: np.ndarray,
        components: int = OOD_COMPONENTS,
    ) -> "OODDetector":
        """Fits on training features; places the threshold by `THRESHOLD_RULE`."""
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
        highest_scan = float(detector.score(validation_features).max())
        lowest_non_mri = float(detector.score(non_mri_features).min())
        detector.threshold = float(np.sqrt(highest_scan * lowest_non_mri))
        return detector

    def score(self, features: np.ndarray) -> np.ndarray:
        differences = np.asarray(features, dtype=np.float32)[:, None, :] - self.class_means[None, :, :]
        projected = differences @ self.components.T
        inside = (projected**2 / self.variances).sum(axis=-1)
        outside = np.maximum((differences**2).sum(axis=-1) - (projected**2).sum(axis=-1), 0.0)
        return np.sqrt((inside + outside / self.noise_variance).min(axis=1))

    def save(self, path: Path) -> None:
        save_fields(self, path)

    @classmethod
    def load(cls, path: Path) -> "OODDetector":
        return load_fields(cls, path)
