"""The selection criterion: each group's loss at its own fitted temperature, the worst group deciding."""

import numpy as np
import pytest

from training.fitting.calibrate import fit_temperature, nll
from training.fitting.selection import NO_TUMOUR, WORST_GROUP, validation_scores


def test_the_worst_group_decides_and_each_group_gets_its_own_temperature():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    logits = rng.normal(0, 1, (200, 4))
    logits[np.arange(100), labels[:100]] += 6  # group a: easy
    logits[100 + np.arange(100), labels[100:]] += 0.5  # group b: hard
    groups = np.array(["a"] * 100 + ["b"] * 100)
    scores = validation_scores(logits, labels, groups)
    hard = nll(logits[100:], labels[100:], fit_temperature(logits[100:], labels[100:]))
    assert scores["worst_group"] == "b" and scores[WORST_GROUP] == pytest.approx(hard)
    assert scores["groups"]["a"]["nll_at_fitted_temperature"] < hard
    assert scores["groups"]["a"]["n"] == 100


def test_tumour_sensitivity_counts_any_tumour_class_as_found():
    labels = np.array([0, 1, 3, NO_TUMOUR])
    logits = np.eye(4)[[1, NO_TUMOUR, 3, NO_TUMOUR]] * 5  # glioma called meningioma: still a tumour found
    row = validation_scores(logits, labels, np.array(["g"] * 4))["groups"]["g"]
    assert row["tumour_sensitivity"] == pytest.approx(2 / 3) and row["accuracy"] == pytest.approx(0.5)
