"""Class activation maps from the ONNX export: the same maps as the Keras model's, without TensorFlow."""

import subprocess
import sys

import numpy as np
import pytest

from model.core.cam import DenseHead, grad_cam, grad_cam_plus_plus, score_cam_masks
from model.core.explain import Explainer
from model.core.maps import GRAD_CAM, GRAD_CAM_PLUS_PLUS, SCORE_CAM, SMOOTHGRAD
from model.core.predict import Classifier
from tests.helpers import ROOT, TINY_SIZE


@pytest.fixture(scope="module")
def onnx_classifier(tiny_onnx_artifact) -> Classifier:
    return Classifier.from_artifact(tiny_onnx_artifact[0])


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)


def test_grad_cam_of_a_pooled_dense_head_is_the_class_activation_map():
    activations = np.random.default_rng(0).uniform(0, 2, (5, 5, 3)).astype(np.float32)
    head = DenseHead(np.array([[1.0, -1.0], [2.0, 0.0], [-3.0, 1.0]], np.float32), np.zeros(2, np.float32))
    expected = np.maximum(activations @ head.kernel[:, 0], 0) / 25
    np.testing.assert_allclose(grad_cam(activations, head, 0), expected, rtol=1e-6)


def test_grad_cam_plus_plus_ignores_channels_that_speak_against_the_class():
    activations = np.zeros((4, 4, 2), np.float32)
    activations[0, 0, 0], activations[3, 3, 1] = 1.0, 1.0  # channel 0 for the class, channel 1 against it
    head = DenseHead(np.array([[1.0], [-1.0]], np.float32), np.zeros(1, np.float32))
    cam = grad_cam_plus_plus(activations, head, 0)
    assert cam[0, 0] > 0 and cam[3, 3] == 0


def test_score_cam_masks_are_the_most_varied_channels_scaled_to_one():
    activations = np.zeros((4, 4, 3), np.float32)
    activations[1, 1, 2] = 5.0
    selected, masks = score_cam_masks(activations, 8, max_n=1)
    assert selected.shape == (4, 4, 1) and masks.shape == (1, 8, 8)
    assert masks.max() == pytest.approx(1.0, abs=1e-6) and masks.min() == 0.0


@pytest.mark.parametrize("method", [GRAD_CAM, GRAD_CAM_PLUS_PLUS, SCORE_CAM])
def test_onnx_maps_equal_the_keras_models_maps(onnx_classifier, method):
    explainer = Explainer(onnx_classifier)
    assert not explainer.needs_tensorflow(method)
    for x in images(3):
        ours = explainer.explain(x, 1, method)
        theirs = explainer.tensorflow_maps().heatmap(x[None], 1, method, None, reference=False)
        scale = float(theirs.max() - theirs.min())
        assert ours.scale == pytest.approx(scale, rel=1e-3, abs=1e-6)
        np.testing.assert_allclose(ours.heatmap * ours.scale, theirs - theirs.min(), atol=1e-3 * max(scale, 1e-6))


def test_smoothgrad_and_the_reference_maps_say_they_need_tensorflow(onnx_classifier, tiny_classifier):
    explainer = Explainer(onnx_classifier)
    assert explainer.needs_tensorflow(SMOOTHGRAD) and explainer.needs_tensorflow(GRAD_CAM, reference=True)
    assert Explainer(tiny_classifier).needs_tensorflow(GRAD_CAM)  # no ONNX export: every map needs the Keras model


FRESH_PROCESS = """
import sys
import numpy as np
from model.core.explain import Explainer
from model.core.predict import Classifier

explainer = Explainer(Classifier.from_artifact(sys.argv[1]))
x = np.random.default_rng(0).uniform(-1, 1, ({size}, {size}, 3)).astype(np.float32)
for method in ("Grad-CAM", "Grad-CAM++", "Score-CAM"):
    assert explainer.explain(x, 0, method).heatmap.shape == ({size}, {size})
print(sorted(name for name in ("tensorflow", "keras", "tf_keras_vis") if name in sys.modules))
"""


def test_a_grad_cam_is_drawn_in_a_fresh_process_without_tensorflow(tiny_onnx_artifact):
    script = FRESH_PROCESS.format(size=TINY_SIZE)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tiny_onnx_artifact[0])], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
