"""A small fitted model as an .npz file: every field back as it went in, floats as floats, no pickles."""

from dataclasses import dataclass

import numpy as np

from model.core.stored import load_fields, save_fields


@dataclass
class Fitted:
    weights: np.ndarray
    threshold: float


def test_a_dataclass_of_arrays_and_floats_round_trips(tmp_path):
    fitted = Fitted(np.arange(6, dtype=np.float32).reshape(2, 3), 0.25)
    save_fields(fitted, tmp_path / "f.npz")
    again = load_fields(Fitted, tmp_path / "f.npz")
    np.testing.assert_array_equal(again.weights, fitted.weights)
    assert again.threshold == 0.25 and isinstance(again.threshold, float)
    assert sorted(np.load(tmp_path / "f.npz", allow_pickle=False).files) == ["threshold", "weights"]
