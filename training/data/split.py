"""Train/validation split of every training source: stratified, seeded, each group of related images on one side.

Sartaj's Training folder is split as it always was (one fold of six, exact and near duplicates grouped), so a
Sartaj-only model and a two-source model are validated on the same Sartaj scans. A manifest-layout source is
split on its own, its `case_group`s kept together and stratified by class and sequence, so that every sequence
has validation scans.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from model.schema.card import ModelCard
from training.data.duplicates import duplicate_groups, hash_images
from training.data.listing import TRAIN_SPLIT, Sample, list_manifest, list_split

VALIDATION_FOLDS = 6  # Sartaj: one fold of six, ~17 % of Training for validation
# Other sources: one fold of five (~20 %): their sequence groups are small, and each needs enough validation scans.
MANIFEST_VALIDATION_FOLDS = 5


def grouped_split(
    labels: np.ndarray, groups: np.ndarray, seed: int, folds: int = VALIDATION_FOLDS
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices); every group lies wholly on one side."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    train, validation = next(splitter.split(np.zeros(len(labels)), labels, groups))
    return np.sort(train), np.sort(validation)


@dataclass(frozen=True)
class TrainingSplit:
    samples: list[Sample]
    labels: np.ndarray
    groups: np.ndarray  # related images (duplicates, case groups), numbered across sources
    train_idx: np.ndarray
    val_idx: np.ndarray

    @property
    def validation_groups(self) -> np.ndarray:
        """The source x sequence group of each validation image (see `Sample.group`)."""
        return np.array([self.samples[i].group for i in self.val_idx])


def _sartaj_part(data_dir: Path, seed: int) -> TrainingSplit:
    samples = list_split(data_dir, TRAIN_SPLIT)
    labels = np.array([s.label for s in samples])
    groups = duplicate_groups(hash_images([s.path for s in samples], desc="hashing Training"))
    train_idx, val_idx = grouped_split(labels, groups, seed)
    return TrainingSplit(samples, labels, groups, train_idx, val_idx)


def _manifest_part(data_dir: Path, seed: int) -> TrainingSplit:
    samples = list_manifest(data_dir)
    labels = np.array([s.label for s in samples])
    _, groups = np.unique([s.case_group for s in samples], return_inverse=True)
    _, strata = np.unique([f"{s.label}/{s.sequence}" for s in samples], return_inverse=True)
    train_idx, val_idx = grouped_split(strata, groups, seed, MANIFEST_VALIDATION_FOLDS)
    return TrainingSplit(samples, labels, groups, train_idx, val_idx)


def _joined(parts: Sequence[TrainingSplit]) -> TrainingSplit:
    samples: list[Sample] = []
    labels: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    train: list[np.ndarray] = []
    validation: list[np.ndarray] = []
    for part in parts:
        offset, group_offset = len(samples), (max(groups[-1]) + 1 if groups else 0)
        samples += part.samples
        labels.append(part.labels)
        groups.append(part.groups + group_offset)
        train.append(part.train_idx + offset)
        validation.append(part.val_idx + offset)
    return TrainingSplit(
        samples, np.concatenate(labels), np.concatenate(groups), np.concatenate(train), np.concatenate(validation)
    )


def split_training(data_dir: Path, seed: int, extra_data_dirs: Sequence[Path] = ()) -> TrainingSplit:
    """Sartaj's Training folder, then each extra manifest-layout source, each split on its own and joined."""
    return _joined([_sartaj_part(data_dir, seed)] + [_manifest_part(d, seed) for d in extra_data_dirs])


def split_of(card: ModelCard, data_dir: Path, extra_data_dirs: Sequence[Path] = ()) -> TrainingSplit:
    """The split a finished run used, from its card's training settings (its seed and other sources); with
    `extra_data_dirs`, those sources instead (for a model trained on Sartaj alone, their validation part is held out
    from it all the same)."""
    settings = card.settings()
    extra = tuple(extra_data_dirs) or tuple(Path(d) for d in settings.extra_data_dirs)
    return split_training(data_dir, settings.seed, extra)
