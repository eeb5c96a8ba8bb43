"""Low precision: measured against float32, never served unless every bound holds; a CPU without the instructions
falls back to float32 and nothing breaks."""

import numpy as np

from model.core.onnx_forward import LAST_CONV, LOGITS, OnnxForward
from model.core.predict import Classifier
from tests.helpers import TINY_SIZE
from training.evaluation import precision
from training.evaluation.precision import BF16, BOUNDS, INT8, Agreement, compare_batch, meets_bounds, merged

AGREEING = {
    "min_class_agreement": 1.0,
    "max_probability_difference": 0.0,
    "min_set_agreement": 1.0,
    "min_referral_agreement": 1.0,
    "min_grad_cam_correlation": 1.0,
}


def test_one_bound_missed_keeps_float32():
    assert meets_bounds(AGREEING)
    for name, bound in BOUNDS.items():
        missed = bound + 0.001 if name.startswith("max_") else bound - 0.001
        assert not meets_bounds(AGREEING | {name: missed}), name


def test_without_bfloat16_instructions_bf16_is_reported_unavailable_and_int8_still_measured(
    tiny_onnx_artifact, tmp_path, monkeypatch
):
    monkeypatch.setattr(precision, "cpu_flags", lambda: [])
    classifier = Classifier.from_artifact(tiny_onnx_artifact[0])
    calibration = np.random.default_rng(0).uniform(-1, 1, (8, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    found = precision.low_precision_forwards(classifier, calibration, tmp_path)
    assert isinstance(found[BF16][1], str) and isinstance(found[INT8][1], OnnxForward)
    served = Classifier.from_artifact(tiny_onnx_artifact[0])
    assert served.onnx is not None and served.onnx.path == classifier.onnx.path  # the app serves float32, unchanged
    assert found[INT8][1](calibration, (LOGITS, LAST_CONV))[LOGITS].shape == (8, 4)


def test_the_same_forward_agrees_with_itself_on_every_figure(tiny_onnx_artifact):
    classifier = Classifier.from_artifact(tiny_onnx_artifact[0])
    x = np.random.default_rng(1).uniform(-1, 1, (5, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)

    batch = compare_batch(
        classifier, classifier.onnx, x, None, [tiny_onnx_artifact[0] / f"{i}.png" for i in range(5)], "v"
    )
    found = Agreement()
    merged(found, batch)
    row = found.summary("float32 again", "ONNX Runtime")
    assert row.serves and row.scans == 5 and row.max_probability_difference == 0.0 and row.differing == []
