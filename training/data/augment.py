"""Training-time augmentation of a square grayscale head crop (see model.core.preprocess.crop_head).

Geometry (flip, rotation, random resized crop) makes framing matter less. The intensity changes (gamma,
contrast, equalisation, inversion, blur, noise) and the domain-generalisation transforms of `training.data.domain`
(skull-stripped views, resampling, random intensity curves, random convolutions, windowing) are there to break
the "looks like this sequence or source = this class" shortcut that the Sartaj Training split teaches. Every
class gets every transform with the same probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from training.data.domain import (
    STRIP_DEPTHS,
    random_convolution,
    random_intensity_curve,
    resampled,
    rewindowed,
    skull_stripped,
)

# Added with the domain-generalisation transforms: a run recorded before them had them off.
_DOMAIN_FIELDS = ("p_skull_strip", "p_resample", "p_curve", "p_random_conv", "p_window")


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
    p_skull_strip: float = 0.3
    p_resample: float = 0.3
    p_curve: float = 0.3
    p_random_conv: float = 0.4
    p_window: float = 0.3

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def recorded(cls, saved: dict[str, Any]) -> "AugmentConfig":
        """The configuration a model card recorded; transforms added after it was written were off."""
        known = {f.name for f in fields(cls)}
        return cls(**({name: 0.0 for name in _DOMAIN_FIELDS} | {k: v for k, v in saved.items() if k in known}))


def augment(square: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    return augment_with_outline(square, None, rng, config)[0]


def augment_with_outline(
    square: np.ndarray, outline: np.ndarray | None, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()
) -> tuple[np.ndarray, np.ndarray | None]:
    """Augments a square crop; a [0, 1] outline of it (float) follows the skull strip, flip, rotation and crop.

    The random draws are the same with or without an outline, so a view can be replayed for its outline.
    """
    if rng.random() < config.p_skull_strip:
        square, outline = skull_stripped(square, outline, rng.uniform(*STRIP_DEPTHS))
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
    if rng.random() < config.p_resample:
        image = resampled(image, rng)
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
    values = _domain_intensity(np.where(foreground, np.clip(values, 0, 1), 0.0), rng, config)
    if rng.random() < config.p_invert:
        values = np.where(foreground, 1.0 - values, 0.0)
    if rng.random() < config.p_noise:
        values = values + rng.normal(0, rng.uniform(1, config.max_noise) / 255.0, values.shape)
    return np.clip(values * 255.0, 0, 255).astype(np.uint8)


def _domain_intensity(values: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """The intensity transforms of `training.data.domain`, each drawn with its probability, in a fixed order."""
    if rng.random() < config.p_curve:
        values = random_intensity_curve(values, rng)
    if rng.random() < config.p_random_conv:
        values = random_convolution(values, rng)
    if rng.random() < config.p_window:
        values = rewindowed(values, rng)
    return values
