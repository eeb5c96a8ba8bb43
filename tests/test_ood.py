import numpy as np

from model.ood import OODDetector


def test_far_features_are_flagged_and_near_ones_are_not(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3, size=(4, 32))
    labels = rng.integers(0, 4, 800)
    features = centres[labels] + rng.normal(size=(800, 32))
    validation = centres[rng.integers(0, 4, 200)] + rng.normal(size=(200, 32))
    detector = OODDetector.fit(features, labels, validation, components=16)
    assert detector.is_out_of_distribution(validation).mean() <= 0.05
    outliers = rng.normal(loc=15, size=(50, 32))
    assert detector.is_out_of_distribution(outliers).all()
    detector.save(tmp_path / "g.npz")
    loaded = OODDetector.load(tmp_path / "g.npz")
    np.testing.assert_allclose(loaded.score(outliers), detector.score(outliers), rtol=1e-5)
