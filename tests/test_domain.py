"""The domain-generalisation transforms: shape, range, black background, replayable, and what each one changes."""

import numpy as np
import pytest
from PIL import Image

from tests.helpers import synthetic_scan
from training.data.augment import AugmentConfig, augment_with_outline
from training.data.domain import (
    brain_mask,
    random_convolution,
    random_intensity_curve,
    resampled,
    rewindowed,
    skull_stripped,
)


def head_with_skull(size: int = 128) -> np.ndarray:
    """A bright ring (scalp and skull) around a darker brain with a bright spot."""
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(yy - size / 2, xx - size / 2)
    image = np.where(radius < 0.45 * size, 90, 0).astype(np.uint8)
    image[(radius > 0.4 * size) & (radius < 0.45 * size)] = 240
    image[np.hypot(yy - size / 2, xx - size / 3) < 6] = 200
    return image


@pytest.mark.parametrize("transform", [random_convolution, random_intensity_curve, rewindowed])
def test_intensity_transforms_keep_shape_range_and_black_background(transform):
    values = synthetic_scan(0, np.random.default_rng(0)).astype(np.float32) / 255
    values[values < 0.1] = 0
    for seed in range(5):
        out = transform(values, np.random.default_rng(seed))
        assert out.shape == values.shape and out.min() >= 0 and out.max() <= 1
        assert np.all(out[values <= 0.03] == 0)
        assert np.array_equal(out, transform(values, np.random.default_rng(seed)))  # replayable


def test_random_convolutions_change_the_look_not_just_the_scale():
    values = synthetic_scan(0, np.random.default_rng(0)).astype(np.float32) / 255
    changed = [random_convolution(values, np.random.default_rng(seed)) for seed in range(8)]
    correlations = [np.corrcoef(values.ravel(), out.ravel())[0, 1] for out in changed]
    assert min(correlations) < 0.95


def test_skull_strip_removes_the_bright_rim_and_keeps_the_spot():
    image = head_with_skull()
    mask = brain_mask(image, depth=0.15)
    assert mask[64, 64] and mask[64, 43]  # centre and the spot
    assert not mask[64, 64 + int(0.42 * 128)]  # the skull ring
    stripped, outline = skull_stripped(image, (image == 200).astype(np.float32), 0.12)
    assert stripped.shape[0] == stripped.shape[1] and stripped.max() == 255  # cropped to the brain, stretched again
    assert outline is not None and outline.shape == stripped.shape and outline.sum() > 0


def test_resampling_keeps_the_size_and_loses_detail():
    image = Image.fromarray(synthetic_scan(1, np.random.default_rng(0)))
    out = resampled(image, np.random.default_rng(1))
    assert out.size == image.size
    assert (
        np.abs(np.diff(np.asarray(out, np.float32), axis=1)).mean()
        < np.abs(np.diff(np.asarray(image, np.float32), axis=1)).mean()
    )


def test_every_view_draws_the_same_with_or_without_an_outline():
    square = head_with_skull()
    outline = (square == 200).astype(np.float32)
    config = AugmentConfig(p_skull_strip=0.5, p_resample=0.5, p_curve=0.5, p_random_conv=0.5, p_window=0.5)
    for seed in range(6):
        with_outline, moved = augment_with_outline(square, outline, np.random.default_rng(seed), config)
        without, _ = augment_with_outline(square, None, np.random.default_rng(seed), config)
        assert np.array_equal(with_outline, without) and moved is not None and moved.shape == with_outline.shape


def test_a_card_written_before_the_domain_transforms_had_them_off():
    recorded = AugmentConfig.recorded({"max_rotation": 10.0, "p_invert": 0.2})
    assert recorded.max_rotation == 10.0 and recorded.p_skull_strip == 0 and recorded.p_random_conv == 0
    assert AugmentConfig.recorded(AugmentConfig().as_dict()) == AugmentConfig()
