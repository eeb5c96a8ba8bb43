import numpy as np
import pytest

from model.core.explain import Explainer
from model.core.maps import GRAD_CAM, METHODS, SMOOTHGRAD
from model.core.preprocess import to_model_input
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


def agree(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Spearman's rank correlation of two maps; two all-zero maps (no positive evidence) agree fully."""
    from scipy.stats import spearmanr

    theirs = np.asarray(theirs, dtype=np.float64)
    if ours.max() == 0 and theirs.max() == 0:
        return 1.0
    return float(spearmanr(ours.ravel(), theirs.ravel()).statistic)


@pytest.mark.artifact
@pytest.mark.parametrize("method", METHODS)
def test_served_maps_agree_with_tf_keras_vis_on_real_scans(real_classifier, method):
    """The served maps (ONNX class activation maps; compiled TensorFlow SmoothGrad) are the standard ones on
    `block14_sepconv2_act`. SmoothGrad draws other random noise than tf-keras-vis, so it can only agree as well as
    two tf-keras-vis runs do."""
    explainer = Explainer(real_classifier)
    threshold = 0.85 if method == SMOOTHGRAD else 0.99
    classes = [None] if method == SMOOTHGRAD else range(real_classifier.card.num_classes)
    for path, _ in sample_scans()[:2]:
        classified = real_classifier.classify_upload(path.read_bytes(), path.name)
        x = to_model_input(classified.prepared)
        for class_index in classes:
            index = classified.prediction.class_index if class_index is None else class_index
            ours = explainer.explain(x, index, method).heatmap
            theirs = explainer.explain(x, index, method, reference=True).heatmap
            assert agree(ours, theirs) > threshold, (path.name, method, index)


@pytest.mark.artifact
def test_the_least_likely_class_has_a_weaker_grad_cam_than_the_predicted_one(real_classifier):
    """What the common scale shows: self-scaled, both maps would peak at 1."""
    explainer = Explainer(real_classifier)
    for path, _ in sample_scans()[:3]:
        classified = real_classifier.classify_upload(path.read_bytes(), path.name)
        x, probabilities = to_model_input(classified.prepared), classified.prediction.probabilities
        predicted = explainer.explain(x, int(np.argmax(probabilities)), GRAD_CAM)
        unlikely = explainer.explain(x, int(np.argmin(probabilities)), GRAD_CAM)
        assert unlikely.scale < predicted.scale, path.name
