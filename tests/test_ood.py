import numpy as np

from model.ood import OODDetector


def test_far_features_are_flagged_and_near_ones_are_not(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3, size=(4, 32))
    labels = rng.integers(0, 4, 800)
    features = centres[labels] + rng.normal(size=(800, 32))
    validation = centres[rng.integers(0, 4, 200)] + rng.normal(size=(200, 32))
    detector = OODDetector.fit(features, labels, validation, components=8)
    assert (detector.score(validation) > detector.threshold).mean() <= 0.05
    outliers = rng.normal(loc=15, size=(50, 32))
    assert (detector.score(outliers) > detector.threshold).all()
    detector.save(tmp_path / "g.npz")
    loaded = OODDetector.load(tmp_path / "g.npz")
    np.testing.assert_allclose(loaded.score(outliers), detector.score(outliers), rtol=1e-5)


def test_the_out_of_distribution_set_is_varied_and_decodable():
    from training.ood_eval import out_of_distribution_images

    images = out_of_distribution_images()
    categories = {category for category, _, _ in images}
    assert len(images) >= 50
    assert {"scikit-image sample", "noise", "synthetic", "x-ray-like", "face photo"} <= categories
    assert all(rgb.dtype.name == "uint8" and rgb.shape[2] == 3 for _, _, rgb in images)
