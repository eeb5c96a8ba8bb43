"""The TensorFlow maps: SmoothGrad in chunks with progress, and tf-keras-vis' reference on the same layer."""

import numpy as np

from model.core.gradients import SMOOTHGRAD_CHUNK, SMOOTHGRAD_SAMPLES, TensorFlowMaps
from model.core.maps import GRAD_CAM, SMOOTHGRAD
from tests.helpers import TINY_SIZE


def test_smoothgrad_reports_progress_per_chunk_and_maps_the_input(tiny_classifier):
    maps = TensorFlowMaps(tiny_classifier)
    x = np.random.default_rng(0).uniform(-1, 1, (1, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    seen = []
    heatmap = maps.heatmap(x, 1, SMOOTHGRAD, seen.append, reference=False)
    assert heatmap.shape == (TINY_SIZE, TINY_SIZE) and (heatmap >= 0).all() and heatmap.max() > 0
    assert len(seen) == SMOOTHGRAD_SAMPLES // SMOOTHGRAD_CHUNK and seen[-1] == 1.0


def test_the_compiled_grad_cam_agrees_with_tf_keras_vis_on_the_tiny_model(tiny_classifier):
    maps = TensorFlowMaps(tiny_classifier)
    x = np.random.default_rng(1).uniform(-1, 1, (1, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    ours = maps.heatmap(x, 2, GRAD_CAM, None, reference=False)
    theirs = maps.heatmap(x, 2, GRAD_CAM, None, reference=True)
    if ours.max() > 0 and theirs.max() > 0:
        assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.99
    else:
        assert ours.max() == theirs.max() == 0
