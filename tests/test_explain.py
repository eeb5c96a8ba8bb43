import numpy as np
import pytest

from model.explain import GRAD_CAM, GRAD_CAM_PLUS_PLUS, METHODS, Explainer, overlay
from model.preprocess import to_model_input
from tests.helpers import TINY_SIZE, sample_scans


@pytest.fixture(scope="module")
def tiny_explainer(tiny_classifier):
    return Explainer(tiny_classifier)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_a_normalised_map(tiny_explainer, method):
    x = np.random.default_rng(0).uniform(-1, 1, (TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    seen = []
    explanation = tiny_explainer.explain(x, 1, method, progress=seen.append)
    assert explanation.heatmap.shape == (TINY_SIZE, TINY_SIZE)
    assert explanation.heatmap.min() >= 0 and explanation.heatmap.max() <= 1
    assert explanation.seconds > 0 and seen[-1] == 1.0


def test_unknown_method_is_refused(tiny_explainer):
    with pytest.raises(ValueError):
        tiny_explainer.explain(np.zeros((TINY_SIZE, TINY_SIZE, 3), np.float32), 0, "LIME")


def test_overlay_keeps_the_image_where_opacity_is_zero():
    image = np.full((8, 8, 3), 100, np.uint8)
    np.testing.assert_array_equal(overlay(image, np.ones((8, 8)), opacity=0.0), image)
    assert overlay(image, np.ones((8, 8)), opacity=1.0).dtype == np.uint8


@pytest.mark.artifact
def test_fast_grad_cam_agrees_with_tf_keras_vis_on_a_real_scan(real_classifier):
    """Our one-pass Grad-CAM is the standard one: it matches tf-keras-vis' Gradcam on the same layer."""
    from tf_keras_vis.gradcam import Gradcam, GradcamPlusPlus
    from tf_keras_vis.utils.scores import CategoricalScore

    explainer = Explainer(real_classifier)
    path, _ = sample_scans()[0]
    classified = real_classifier.classify_bytes(path.read_bytes(), path.name)
    x = to_model_input(classified.prepared)
    reference = {GRAD_CAM: Gradcam(real_classifier.model, clone=False),
                 GRAD_CAM_PLUS_PLUS: GradcamPlusPlus(real_classifier.model, clone=False)}
    for class_index in range(real_classifier.card.num_classes):
        for method, tool in reference.items():
            ours = explainer.explain(x, class_index, method).heatmap
            theirs = tool(CategoricalScore([class_index]), x[None], penultimate_layer=explainer.layer_name,
                          seek_penultimate_conv_layer=False)[0]
            correlation = np.corrcoef(ours.ravel(), theirs.ravel())[0, 1]
            assert correlation > 0.9, (method, class_index, correlation)
