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


def agree(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Correlation of two maps; two all-zero maps (the class has no positive evidence) agree fully."""
    theirs = np.asarray(theirs, dtype=np.float64)
    if ours.max() == 0 and theirs.max() == 0:
        return 1.0
    return float(np.corrcoef(ours.ravel(), theirs.ravel())[0, 1])


@pytest.mark.artifact
def test_fast_grad_cam_agrees_with_tf_keras_vis_on_a_real_scan(real_classifier):
    """Our one-pass maps are the standard ones on `block14_sepconv2_act` (not the pre-BN conv that
    tf-keras-vis would pick by default): equal to tf-keras-vis' Gradcam and GradcamPlusPlus."""
    from tf_keras_vis.gradcam import Gradcam, GradcamPlusPlus
    from tf_keras_vis.utils.scores import CategoricalScore

    explainer = Explainer(real_classifier)
    path, _ = sample_scans()[0]
    x = to_model_input(real_classifier.classify_bytes(path.read_bytes(), path.name).prepared)
    reference = {
        GRAD_CAM: Gradcam(real_classifier.model, clone=False),
        GRAD_CAM_PLUS_PLUS: GradcamPlusPlus(real_classifier.model, clone=False),
    }
    for class_index in range(real_classifier.card.num_classes):
        low = dict(zip((GRAD_CAM, GRAD_CAM_PLUS_PLUS), explainer.low_resolution_cams(x, class_index)))
        for method, tool in reference.items():
            options = dict(penultimate_layer=explainer.layer_name, seek_penultimate_conv_layer=False)
            theirs_low = tool(
                CategoricalScore([class_index]), x[None], expand_cam=False, normalize_cam=False, **options
            )
            theirs = tool(CategoricalScore([class_index]), x[None], **options)[0]
            assert agree(low[method], theirs_low[0]) > 0.99, (method, class_index)
            assert agree(explainer.explain(x, class_index, method).heatmap, theirs) > 0.99, (method, class_index)


@pytest.mark.artifact
def test_compiled_smoothgrad_agrees_with_tf_keras_vis_on_a_real_scan(real_classifier):
    """Same recipe, different random noise: the two averaged maps must still agree closely."""
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.scores import CategoricalScore

    from model.explain import SMOOTHGRAD, SMOOTHGRAD_NOISE, SMOOTHGRAD_SAMPLES

    explainer = Explainer(real_classifier)
    path, _ = sample_scans()[0]
    classified = real_classifier.classify_bytes(path.read_bytes(), path.name)
    x = to_model_input(classified.prepared)
    ours = explainer.explain(x, classified.prediction.class_index, SMOOTHGRAD).heatmap
    theirs = Saliency(real_classifier.model, clone=False)(
        CategoricalScore([classified.prediction.class_index]),
        x[None],
        smooth_samples=SMOOTHGRAD_SAMPLES,
        smooth_noise=SMOOTHGRAD_NOISE,
    )[0]
    assert agree(ours, theirs) > 0.85  # two tf-keras-vis runs agree to about 0.92 here
