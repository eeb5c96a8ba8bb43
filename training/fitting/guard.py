"""Fit the not-a-brain-MRI guard: on training scans, its threshold from validation and the design non-MRI set.

`train` fits it from its frozen-layer cache; `python -m training guard` fits it
again for a finished artifact from the images (the frozen layers are the same,
so the two agree), without training anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from model.core.batch import Loaded, batches, loaded_scans
from model.core.ood import OODDetector, pooled_frozen_features
from model.core.predict import BATCH, Classifier
from model.core.preprocess import preprocess
from model.schema.card import update_card
from training.data.ood_images import DESIGN, out_of_distribution_images
from training.data.split import split_of
from training.fitting.artifact import write_guard

FrozenForward = Callable[[np.ndarray], np.ndarray]  # model inputs -> activations where the frozen layers end


def pooled_features(forward: FrozenForward, inputs: Iterable[np.ndarray], count: int) -> np.ndarray:
    """The guard's features of `count` model inputs, `BATCH` at a time."""
    pooled = []
    chunks = batches(inputs, BATCH)
    for chunk in tqdm(chunks, total=-(-count // BATCH), desc="guard features", unit="batch", leave=False):
        pooled.append(pooled_frozen_features(forward(np.stack(chunk))))
    return np.concatenate(pooled)


def design_non_mri_features(forward: FrozenForward, size: int) -> np.ndarray:
    """Features of the design part of the non-MRI set: the only non-MRI images the threshold may see."""
    images = [rgb for part, _, _, rgb in out_of_distribution_images() if part == DESIGN]
    return pooled_features(forward, (preprocess(rgb, size) for rgb in images), len(images))


def _readable(scans: Iterable[Loaded]) -> Iterator[np.ndarray]:
    for scan in scans:
        if scan.model_input is None:
            raise ValueError(f"a training scan cannot be read: {scan.file}: {scan.error}")
        yield scan.model_input


def refit_guard(artifact_dir: Path, data_dir: Path) -> dict[str, Any]:
    """Fits the guard of a finished artifact again on its own train/validation split; updates its card."""
    classifier = Classifier.from_artifact(artifact_dir, with_guard=False)
    card = classifier.card
    split = split_of(card, data_dir)

    def frozen(inputs: np.ndarray) -> np.ndarray:
        return classifier.frozen_and_logits(inputs)[0]

    scans = loaded_scans([s.path for s in split.samples], card.image_size)  # decoded ahead, a few at a time
    features = pooled_features(frozen, _readable(scans), len(split.samples))
    guard = OODDetector.fit(
        features[split.train_idx],
        split.labels[split.train_idx],
        features[split.val_idx],
        design_non_mri_features(frozen, card.image_size),
    )
    block = write_guard(guard, artifact_dir)
    update_card(artifact_dir, ood=block)
    return block
