"""Training-time augmentation of a square grayscale head crop (see model.preprocess.crop_head).

Geometry (flip, rotation, random resized crop) makes framing matter less; the
intensity changes (gamma, contrast, equalisation, inversion, blur, noise) are
there to break the "bright T2/FLAIR look = no tumour" shortcut that the
Training split teaches, because Testing's new images come from a source with
other sequences and contrast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps


@dataclass(frozen=True)
class AugmentConfig:
    max_rotation: float = 15.0
    min_crop: float = 0.8
    gamma_log_range: float = 0.5
    contrast_range: float = 0.25
    p_equalize: float = 0.2
    p_invert: float = 0.2
    p_blur: float = 0.2
    p_noise: float = 0.3
    max_noise: float = 10.0

    def as_dict(self) -> dict:
        return asdict(self)


def augment(square: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    return augment_with_outline(square, None, rng, config)[0]


def augment_with_outline(
    square: np.ndarray, outline: np.ndarray | None, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()
) -> tuple[np.ndarray, np.ndarray | None]:
    """Augments a square crop; a [0, 1] outline of it (float) follows the same flip, rotation and crop.

    The random draws are the same with or without an outline, so a view can be replayed for its outline.
    """
    image = Image.fromarray(square)
    shape = None if outline is None else Image.fromarray(outline.astype(np.float32), mode="F")
    if rng.random() < 0.5:
        image, shape = ImageOps.mirror(image), shape and shape.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    angle = rng.uniform(-config.max_rotation, config.max_rotation)
    image, shape = (
        image.rotate(angle, Image.Resampling.BILINEAR),
        shape and shape.rotate(angle, Image.Resampling.BILINEAR),
    )
    side = image.width
    crop = int(side * rng.uniform(config.min_crop, 1.0))
    left, top = rng.integers(0, side - crop + 1, size=2)
    box = (int(left), int(top), int(left) + crop, int(top) + crop)
    image, shape = image.crop(box), shape and shape.crop(box)
    return _intensity(image, rng, config), None if shape is None else np.asarray(shape)


def _intensity(image: Image.Image, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    if rng.random() < config.p_equalize:
        image = ImageOps.equalize(image)
    if rng.random() < config.p_blur:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    values = np.asarray(image, dtype=np.float32) / 255.0
    foreground = values > 0.03
    values = values ** np.exp(rng.uniform(-config.gamma_log_range, config.gamma_log_range))
    values = (values - 0.5) * (1 + rng.uniform(-config.contrast_range, config.contrast_range)) + 0.5
    if rng.random() < config.p_invert:
        values = np.where(foreground, 1.0 - values, 0.0)
    if rng.random() < config.p_noise:
        values = values + rng.normal(0, rng.uniform(1, config.max_noise) / 255.0, values.shape)
    return np.clip(values * 255.0, 0, 255).astype(np.uint8)
