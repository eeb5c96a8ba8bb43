import numpy as np
import pytest

from tests.helpers import synthetic_scan
from training.evaluation.corruptions import (
    CORRUPTIONS,
    SEVERITIES,
    blur,
    contrast,
    downscale,
    gaussian_noise,
    rician_noise,
)


@pytest.fixture(scope="module")
def scan() -> np.ndarray:
    return np.repeat(synthetic_scan(1, np.random.default_rng(0), size=256)[..., None], 3, axis=-1)


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_keeps_shape_and_range_and_is_fixed_by_its_seed(scan, name):
    corruption = CORRUPTIONS[name]
    for severity in SEVERITIES:
        first = corruption(scan, severity, np.random.default_rng([7, severity]))
        again = corruption(scan, severity, np.random.default_rng([7, severity]))
        assert first.shape == scan.shape and first.dtype == np.uint8
        np.testing.assert_array_equal(first, again)
    with pytest.raises(ValueError, match="severity"):
        corruption(scan, 6, np.random.default_rng(0))


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


@pytest.mark.parametrize("corruption", [gaussian_noise, rician_noise, blur, contrast, downscale])
def test_a_higher_severity_moves_the_image_further(scan, corruption):
    distances = [_difference(scan, corruption(scan, s, np.random.default_rng(1))) for s in SEVERITIES]
    assert distances == sorted(distances) and distances[0] > 0


def test_rician_noise_lifts_the_dark_background_and_gaussian_noise_does_not_on_average(scan):
    background = scan[..., 0] == 0
    rician = rician_noise(scan, 5, np.random.default_rng(2))[..., 0][background].mean()
    assert rician > 15  # |N(0, s) + i N(0, s)| has mean s * sqrt(pi / 2) ~ 33 at s = 26
