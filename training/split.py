"""Train/validation split of the Training folder: stratified, seeded, duplicate-aware."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

VALIDATION_FOLDS = 6  # one fold of six: ~17 % of Training for validation


def grouped_split(labels: np.ndarray, groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices); every duplicate group lies wholly on one side."""
    splitter = StratifiedGroupKFold(n_splits=VALIDATION_FOLDS, shuffle=True, random_state=seed)
    train, validation = next(splitter.split(np.zeros(len(labels)), labels, groups))
    return np.sort(train), np.sort(validation)
