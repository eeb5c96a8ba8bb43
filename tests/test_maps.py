"""What a saliency map is, apart from how it is computed: scaling, the common scale, upsampling, the overlay."""

import numpy as np
import pytest

from model.core.maps import GRAD_CAM, Explanation, normalise, overlay, upsample


def test_overlay_keeps_the_image_where_opacity_is_zero():
    image = np.full((8, 8, 3), 100, np.uint8)
    np.testing.assert_array_equal(overlay(image, np.ones((8, 8)), opacity=0.0), image)
    assert overlay(image, np.ones((8, 8)), opacity=1.0).dtype == np.uint8


def test_on_a_common_scale_a_weak_map_stays_weak():
    strong = Explanation(GRAD_CAM, 0, np.ones((4, 4), np.float32), 0.1, scale=8.0)
    weak = Explanation(GRAD_CAM, 1, np.ones((4, 4), np.float32), 0.1, scale=0.4)
    assert strong.on_scale(4.0).max() == 1.0  # clipped at the reference
    assert weak.on_scale(4.0).max() == pytest.approx(0.1)
    np.testing.assert_array_equal(weak.on_scale(0.0), weak.heatmap)  # no reference: the map's own scale


def test_normalise_keeps_the_range_it_removed_and_a_flat_map_stays_flat():
    scaled, scale = normalise(np.array([[2.0, 4.0], [6.0, np.nan]]))
    assert scale == 6.0 and scaled.max() == 1.0 and scaled.min() == 0.0
    flat, flat_scale = normalise(np.ones((3, 3)))
    assert flat_scale == 0.0 and not flat.any()


def test_upsample_aligns_the_corners_and_keeps_a_channel_axis():
    cam = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    big = upsample(cam, (5, 5))
    assert big.shape == (5, 5) and big[0, 0] == 0.0 and big[-1, -1] == pytest.approx(3.0)
    assert upsample(np.stack([cam, cam], axis=-1), (5, 5)).shape == (5, 5, 2)
