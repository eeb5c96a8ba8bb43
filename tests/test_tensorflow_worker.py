"""TensorFlow's maps in a child process: the same maps as in-process, progress on the way, the child gone when
idle, the server never importing TensorFlow, and a typed error when the child cannot load the model."""

import subprocess
import sys
import time

import numpy as np
import pytest

from model.core.explain import Explainer
from model.core.gradients import TensorFlowMaps
from model.core.maps import GRAD_CAM, SMOOTHGRAD
from model.core.predict import Classifier
from model.core.tensorflow_worker import TensorFlowWorker
from model.errors import SaliencyUnavailableError
from tests.helpers import ROOT, TINY_SIZE


def image() -> np.ndarray:
    return np.random.default_rng(2).uniform(-1, 1, (1, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)


def test_the_worker_draws_what_this_process_draws_and_reports_progress(tiny_onnx_artifact):
    root = tiny_onnx_artifact[0]
    worker = TensorFlowWorker(root, idle_s=60)
    try:
        ours = worker.heatmap(image(), 1, GRAD_CAM, None, reference=True)
        here = TensorFlowMaps(Classifier.from_artifact(root, runtime="tensorflow")).heatmap(
            image(), 1, GRAD_CAM, None, True
        )
        np.testing.assert_allclose(ours, here, atol=1e-5)
        seen: list[float] = []
        worker.heatmap(image(), 0, SMOOTHGRAD, seen.append, reference=False)
        assert seen and seen[-1] == 1.0
    finally:
        worker.stop()
    assert not worker.running


def test_the_worker_exits_when_idle_and_starts_again_when_asked(tiny_onnx_artifact):
    worker = TensorFlowWorker(tiny_onnx_artifact[0], idle_s=1.0)
    worker.heatmap(image(), 0, SMOOTHGRAD, None, reference=False)
    assert worker.running
    deadline = time.monotonic() + 20
    while worker.running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not worker.running
    worker.heatmap(image(), 0, SMOOTHGRAD, None, reference=False)  # a new child
    worker.stop()


def test_a_worker_that_cannot_load_the_model_raises_a_typed_error(tmp_path):
    with pytest.raises(SaliencyUnavailableError, match="could not load the model"):
        TensorFlowWorker(tmp_path).heatmap(image(), 0, SMOOTHGRAD, None, reference=False)


SERVER = """
import sys
import numpy as np
from model.core.explain import Explainer
from model.core.maps import SMOOTHGRAD
from model.core.predict import Classifier
explainer = Explainer(Classifier.from_artifact(sys.argv[1]))
x = np.zeros((explainer.classifier.card.image_size,) * 2 + (3,), np.float32)
explainer.explain(x, 0, SMOOTHGRAD)
print("tensorflow" in sys.modules)
"""


def test_a_server_that_draws_smoothgrad_never_imports_tensorflow(tiny_onnx_artifact):
    found = subprocess.run(
        [sys.executable, "-c", SERVER, str(tiny_onnx_artifact[0])], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip().splitlines()[-1] == "False"


def test_an_explainer_of_a_model_built_in_memory_draws_in_this_process(tiny_classifier):
    explainer = Explainer(tiny_classifier)
    assert isinstance(explainer.tensorflow_maps(), TensorFlowMaps)
