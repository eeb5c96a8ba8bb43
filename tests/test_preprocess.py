import numpy as np
import pytest

from model.core.preprocess import (
    crop_head,
    head_bbox,
    prepare,
    prepare_outline,
    preprocess,
    stretch_contrast,
    to_model_input,
)


def head_image(height=200, width=300, box=(50, 100, 150, 220)):
    image = np.zeros((height, width), np.uint8)
    top, left, bottom, right = box
    image[top:bottom, left:right] = np.linspace(60, 160, right - left).astype(np.uint8)[None, :]
    return image


def test_head_bbox_finds_the_bright_region_with_a_margin():
    top, left, bottom, right = head_bbox(head_image())
    assert 40 <= top <= 50 and 90 <= left <= 100 and 150 <= bottom <= 160 and 220 <= right <= 230


def test_small_specks_do_not_count_as_head():
    image = head_image()
    image[5, 5] = 255  # e.g. a text annotation pixel
    assert head_bbox(image)[0] >= 40


def test_blank_image_keeps_its_full_frame():
    assert head_bbox(np.zeros((50, 80), np.uint8)) == (0, 0, 50, 80)


def test_crop_is_square_and_stretched():
    square = crop_head(np.repeat(head_image()[..., None], 3, axis=-1))
    assert square.shape[0] == square.shape[1]
    assert square.max() >= 250  # the head now spans the full range


def test_stretch_leaves_flat_images_alone():
    flat = np.full((40, 40), 100, np.uint8)
    np.testing.assert_array_equal(stretch_contrast(flat), flat)


def test_prepare_and_model_input_shapes_and_ranges():
    rgb = np.repeat(head_image()[..., None], 3, axis=-1)
    prepared = prepare(rgb, 64)
    assert prepared.shape == (64, 64, 3) and prepared.dtype == np.uint8
    x = preprocess(rgb, 64)
    assert x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1
    np.testing.assert_allclose(x, to_model_input(prepared))


def test_framing_does_not_change_the_prepared_image_much():
    """The same head, zoomed out inside a bigger frame, prepares to nearly the same picture."""
    rng = np.random.default_rng(0)
    head = rng.integers(60, 200, size=(100, 100)).astype(np.uint8)
    tight = np.pad(head, 4)
    loose = np.pad(head, 150)
    a = prepare(np.repeat(tight[..., None], 3, -1), 64).astype(float)
    b = prepare(np.repeat(loose[..., None], 3, -1), 64).astype(float)
    assert np.abs(a - b).mean() < 12


def blob_scan(height, width, head, blob):
    """A head rectangle and a bright square blob in it, plus the blob's outline: both at the scan's size."""
    image = np.zeros((height, width), np.uint8)
    top, left, bottom, right = head
    image[top:bottom, left:right] = 90
    outline = np.zeros((height, width), bool)
    by, bx, side = blob
    image[by : by + side, bx : bx + side] = 250
    outline[by : by + side, bx : bx + side] = True
    return np.repeat(image[..., None], 3, axis=-1), outline


@pytest.mark.parametrize(
    "height, width, head, blob",
    [
        (200, 200, (20, 20, 180, 180), (60, 110, 30)),  # centred head
        (240, 320, (10, 180, 150, 310), (40, 250, 24)),  # off-centre head in a wide frame
        (300, 180, (150, 10, 290, 120), (200, 30, 20)),  # off-centre head in a tall frame
    ],
)
def test_an_outline_stays_on_its_blob_after_preparation(height, width, head, blob):
    rgb, outline = blob_scan(height, width, head, blob)
    prepared = prepare(rgb, 96)[..., 0]
    prepared_outline = prepare_outline(outline, rgb, 96)
    assert prepared_outline.shape == (96, 96) and prepared_outline.any()
    bright = prepared > 200
    overlap = (bright & prepared_outline).sum() / (bright | prepared_outline).sum()
    assert overlap > 0.75


def test_an_outline_of_another_size_is_refused():
    rgb, outline = blob_scan(100, 100, (10, 10, 90, 90), (30, 30, 10))
    with pytest.raises(ValueError):
        prepare_outline(outline[:50], rgb, 64)
