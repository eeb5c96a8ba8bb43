"""The one preprocessing path, shared by training, evaluation and the app.

    rgb uint8 (any size) --prepare--> head-cropped, contrast-normalised square uint8
                         --to_model_input--> float32 in [-1, 1] (Xception's scaling)

A tumour outline drawn on the scan follows the same geometry (`prepare_outline`:
the scan's crop box, the same padding and resize), so map and outline align.

Cropping to the head's bounding box makes framing and zoom matter less (the
Testing split comes partly from another source with tighter crops), and the
percentile stretch inside the head evens out brightness between sources.
Training augments between the two steps.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_FOREGROUND_FRACTION = 0.08  # of the bright end; MRI background is near black
_MIN_LINE_FRACTION = 0.02  # a row/column needs this much foreground to count (skips text and specks)
_MARGIN = 0.04
_STRETCH_PERCENTILES = (0.5, 99.5)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2:
        return rgb.astype(np.uint8)
    return np.asarray(Image.fromarray(rgb.astype(np.uint8)).convert("L"))


def head_bbox(gray: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the head, or the whole image when nothing stands out."""
    height, width = gray.shape
    bright = float(np.percentile(gray, 99))
    mask = gray > max(8.0, _FOREGROUND_FRACTION * bright)
    rows = np.flatnonzero(mask.sum(axis=1) > _MIN_LINE_FRACTION * width)
    cols = np.flatnonzero(mask.sum(axis=0) > _MIN_LINE_FRACTION * height)
    if rows.size == 0 or cols.size == 0:
        return 0, 0, height, width
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if (bottom - top) < 0.2 * height or (right - left) < 0.2 * width:
        return 0, 0, height, width
    pad_y, pad_x = int(_MARGIN * (bottom - top)), int(_MARGIN * (right - left))
    return max(0, top - pad_y), max(0, left - pad_x), min(height, bottom + pad_y), min(width, right + pad_x)


def pad_to_square(gray: np.ndarray) -> np.ndarray:
    height, width = gray.shape
    side = max(height, width)
    out = np.zeros((side, side), dtype=gray.dtype)
    top, left = (side - height) // 2, (side - width) // 2
    out[top : top + height, left : left + width] = gray
    return out


def stretch_contrast(gray: np.ndarray) -> np.ndarray:
    """Maps the head's 0.5th..99.5th percentile to 0..255."""
    foreground = gray[gray > 8]
    if foreground.size < 64:
        return gray
    low, high = np.percentile(foreground, _STRETCH_PERCENTILES)
    if high - low < 1:
        return gray
    scaled = (gray.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def crop_to_square(array: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The geometry of preparation: cut out `box` (see `head_bbox`), pad it square with zeros, centred."""
    top, left, bottom, right = box
    return pad_to_square(array[top:bottom, left:right])


def crop_head(rgb: np.ndarray) -> np.ndarray:
    """Grayscale crop of the head, contrast-stretched, padded square (not yet resized).

    The stretch maps the zero padding to zero, so stretching after padding equals stretching before.
    """
    gray = to_gray(rgb)
    return stretch_contrast(crop_to_square(gray, head_bbox(gray)))


def resize_square(gray: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(gray).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0))


def square_to_rgb(square: np.ndarray, size: int) -> np.ndarray:
    """A square grayscale crop -> size x size x 3 uint8 (the backbone expects three channels)."""
    gray = resize_square(square, size)
    return np.repeat(gray[..., None], 3, axis=-1)


def prepare(rgb: np.ndarray, size: int) -> np.ndarray:
    """Any decoded image -> size x size x 3 uint8, ready for display or `to_model_input`."""
    return square_to_rgb(crop_head(rgb), size)


def prepare_outline(outline: np.ndarray, rgb: np.ndarray, size: int) -> np.ndarray:
    """A binary outline drawn on `rgb` (same height and width) -> size x size bool, aligned with `prepare(rgb)`."""
    if outline.shape[:2] != rgb.shape[:2]:
        raise ValueError(f"outline is {outline.shape[:2]}, its scan {rgb.shape[:2]}: they must be the same size")
    square = crop_to_square(np.where(outline > 0, 255, 0).astype(np.uint8), head_bbox(to_gray(rgb)))
    return resize_square(square, size) >= 128


def to_model_input(prepared: np.ndarray) -> np.ndarray:
    return prepared.astype(np.float32) / 127.5 - 1.0


def preprocess(rgb: np.ndarray, size: int) -> np.ndarray:
    return to_model_input(prepare(rgb, size))
