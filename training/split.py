"""Train/validation split of the Training folder: stratified, seeded, duplicate-aware."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from training.data import TRAIN_SPLIT, Sample, list_split
from training.duplicates import duplicate_groups, hash_images

VALIDATION_FOLDS = 6  # one fold of six: ~17 % of Training for validation


def grouped_split(labels: np.ndarray, groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices); every duplicate group lies wholly on one side."""
    splitter = StratifiedGroupKFold(n_splits=VALIDATION_FOLDS, shuffle=True, random_state=seed)
    train, validation = next(splitter.split(np.zeros(len(labels)), labels, groups))
    return np.sort(train), np.sort(validation)


@dataclass(frozen=True)
class TrainingSplit:
    samples: list[Sample]
    labels: np.ndarray
    groups: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray


def split_training(data_dir: Path, seed: int) -> TrainingSplit:
    """Lists Training, groups exact and near duplicates, and splits them with `grouped_split`."""
    samples = list_split(data_dir, TRAIN_SPLIT)
    labels = np.array([s.label for s in samples])
    groups = duplicate_groups(hash_images([s.path for s in samples], desc="hashing Training"))
    train_idx, val_idx = grouped_split(labels, groups, seed)
    return TrainingSplit(samples, labels, groups, train_idx, val_idx)
