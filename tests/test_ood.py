import numpy as np
import pytest

from model.core.ood import OODDetector, pooled_frozen_features


def test_far_features_are_flagged_and_near_ones_are_not(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3, size=(4, 32))
    labels = rng.integers(0, 4, 800)
    features = centres[labels] + rng.normal(size=(800, 32))
    validation = centres[rng.integers(0, 4, 200)] + rng.normal(size=(200, 32))
    non_mri = rng.normal(loc=8, size=(20, 32))
    detector = OODDetector.fit(features, labels, validation, non_mri, components=8)
    highest, lowest = detector.score(validation).max(), detector.score(non_mri).min()
    assert highest < detector.threshold < lowest
    assert detector.threshold == pytest.approx(np.sqrt(highest * lowest))  # the geometric midpoint
    outliers = rng.normal(loc=15, size=(50, 32))
    assert (detector.score(outliers) > detector.threshold).all()
    detector.save(tmp_path / "g.npz")
    loaded = OODDetector.load(tmp_path / "g.npz")
    np.testing.assert_allclose(loaded.score(outliers), detector.score(outliers), rtol=1e-5)


def test_pooled_frozen_features_are_spatial_means():
    activations = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    np.testing.assert_allclose(pooled_frozen_features(activations), activations.reshape(2, 12, 5).mean(axis=1))


def test_the_out_of_distribution_set_is_varied_decodable_and_keeps_a_held_out_part():
    from training.data.ood_images import DESIGN, HELD_OUT, out_of_distribution_images

    images = out_of_distribution_images()
    parts = {part: {category for p, category, _, _ in images if p == part} for part in (DESIGN, HELD_OUT)}
    assert len(images) >= 100
    assert {"scikit-image sample", "noise", "synthetic", "x-ray-like", "face photo"} <= parts[DESIGN]
    assert {"app screenshot", "web page", "office document", "chart or drawing", "other modality"} <= parts[HELD_OUT]
    assert not parts[DESIGN] & parts[HELD_OUT]
    assert all(rgb.dtype.name == "uint8" and rgb.ndim == 3 and rgb.shape[2] == 3 for *_, rgb in images)
    again = out_of_distribution_images()
    assert all(np.array_equal(a[-1], b[-1]) for a, b in zip(images, again))  # fixed seeds


@pytest.mark.artifact
def test_screenshots_of_the_app_and_other_non_mri_images_are_flagged(real_classifier):
    from training.data.ood_images import HELD_OUT, out_of_distribution_images

    held_out = [(name, rgb) for part, _, name, rgb in out_of_distribution_images() if part == HELD_OUT]
    flagged = [p.out_of_distribution for _, p in real_classifier.classify_images([rgb for _, rgb in held_out])]
    assert all(flagged), [name for (name, _), f in zip(held_out, flagged) if not f]
