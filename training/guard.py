"""Fit the not-a-brain-MRI guard: on training scans, its threshold from validation and the design non-MRI set.

`train` fits it from its frozen-layer cache; `python -m training guard` fits it
again for a finished artifact from the images (the frozen layers are the same,
so the two agree), without training anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from model.card import load_card, write_card
from model.decode import decode_file
from model.ood import OODDetector, pooled_frozen_features
from model.predict import BATCH, Classifier
from model.preprocess import prepare, to_model_input
from training.artifact import write_guard
from training.ood_images import DESIGN, out_of_distribution_images
from training.split import split_training

FrozenForward = Callable[[np.ndarray], np.ndarray]  # model inputs -> activations where the frozen layers end


def pooled_features_of_images(forward: FrozenForward, images: list[np.ndarray], size: int) -> np.ndarray:
    """The guard's features of RGB images, through the app's one preprocessing path, in batches."""
    pooled = []
    for start in tqdm(range(0, len(images), BATCH), desc="guard features", unit="batch", leave=False):
        inputs = np.stack([to_model_input(prepare(rgb, size)) for rgb in images[start : start + BATCH]])
        pooled.append(pooled_frozen_features(forward(inputs)))
    return np.concatenate(pooled)


def design_non_mri_features(forward: FrozenForward, size: int) -> np.ndarray:
    """Features of the design part of the non-MRI set: the only non-MRI images the threshold may see."""
    images = [rgb for part, _, _, rgb in out_of_distribution_images() if part == DESIGN]
    return pooled_features_of_images(forward, images, size)


def refit_guard(artifact_dir: Path, data_dir: Path) -> dict[str, Any]:
    """Fits the guard of a finished artifact again on its own train/validation split; updates its card."""
    classifier = Classifier.from_artifact(artifact_dir, with_guard=False)
    card = classifier.card
    split = split_training(data_dir, card.training_config["seed"])

    def frozen(inputs: np.ndarray) -> np.ndarray:
        return classifier.frozen_and_logits(inputs)[0]

    features = pooled_features_of_images(frozen, [decode_file(s.path).rgb for s in split.samples], card.image_size)
    guard = OODDetector.fit(
        features[split.train_idx],
        split.labels[split.train_idx],
        features[split.val_idx],
        design_non_mri_features(frozen, card.image_size),
    )
    raw = load_card(artifact_dir).raw
    raw["ood"] = write_guard(guard, artifact_dir)
    write_card(artifact_dir, raw)
    return raw["ood"]
