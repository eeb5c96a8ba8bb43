"""Acquisition changes a scan from another scanner or site may carry, at severities 1-5 (ImageNet-C style).

Hendrycks & Dietterich (ICLR 2019) corrupt ImageNet at five severities; these
are the MRI counterparts: thermal noise (Gaussian, and Rician, which is what a
magnitude image's noise follows), blur, JPEG re-compression, gamma and
contrast changes, a bias field (the smooth multiplicative intensity
inhomogeneity of receive coils), rotation and downscaling. Each takes an RGB
uint8 image and returns one of the same shape and dtype; the randomness comes
from the generator passed in, so a seed fixes every corrupted image.
"""

from __future__ import annotations

import io
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from model.i18n import N_

SEVERITIES = (1, 2, 3, 4, 5)
Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def _level(values: tuple[float, ...], severity: int) -> float:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity}")
    return values[severity - 1]


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def gaussian_noise(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    sigma = _level((4, 8, 12, 18, 26), severity)
    return _to_uint8(image + rng.normal(0, sigma, image.shape[:2])[..., None])


def rician_noise(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """|signal + complex Gaussian noise|: brightens the dark background as a magnitude image's noise does."""
    sigma = _level((4, 8, 12, 18, 26), severity)
    real = image[..., 0] + rng.normal(0, sigma, image.shape[:2])
    imaginary = rng.normal(0, sigma, image.shape[:2])
    return np.repeat(_to_uint8(np.hypot(real, imaginary))[..., None], 3, axis=-1)


def blur(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    sigma = _level((0.6, 1.0, 1.5, 2.2, 3.0), severity) * max(image.shape[:2]) / 256
    return _to_uint8(ndimage.gaussian_filter(image.astype(np.float64), (sigma, sigma, 0)))


def jpeg(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(_level((50, 30, 20, 12, 7), severity)))
    return np.asarray(Image.open(buffer).convert("RGB"))


def gamma(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Brighter or darker mid-tones (the direction drawn at random)."""
    exponent = _level((1.2, 1.4, 1.7, 2.0, 2.5), severity) ** rng.choice([-1.0, 1.0])
    return _to_uint8(255 * (image / 255.0) ** exponent)


def contrast(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    kept = _level((0.75, 0.6, 0.45, 0.3, 0.2), severity)
    mean = image.mean()
    return _to_uint8((image - mean) * kept + mean)


def bias_field(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative field exp(a random quadratic in x and y), up to about x/÷ 2.7 at severity 5."""
    strength = _level((0.2, 0.4, 0.6, 0.8, 1.0), severity)
    height, width = image.shape[:2]
    y, x = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    terms = np.stack([x, y, x * y, x**2 - 1 / 3, y**2 - 1 / 3])
    coefficients = rng.normal(size=len(terms))
    field = np.tensordot(coefficients / np.linalg.norm(coefficients), terms, axes=1)
    return _to_uint8(image * np.exp(strength * field / np.abs(field).max())[..., None])


def rotation(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    degrees = _level((5, 10, 15, 22, 30), severity) * rng.choice([-1.0, 1.0])
    return np.asarray(Image.fromarray(image).rotate(degrees, resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0)))


def downscale(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Acquired at a lower matrix size and upsampled again: fewer pixels across the head."""
    factor = _level((1.5, 2, 3, 4, 6), severity)
    height, width = image.shape[:2]
    small = Image.fromarray(image).resize(
        (max(1, round(width / factor)), max(1, round(height / factor))), Image.Resampling.BOX
    )
    return np.asarray(small.resize((width, height), Image.Resampling.BILINEAR))


CORRUPTIONS: dict[str, Corruption] = {  # names marked for translation: the app shows them
    N_("Gaussian noise"): gaussian_noise,
    N_("Rician noise"): rician_noise,
    N_("blur"): blur,
    N_("JPEG"): jpeg,
    N_("gamma"): gamma,
    N_("contrast"): contrast,
    N_("bias field"): bias_field,
    N_("rotation"): rotation,
    N_("downscaling"): downscale,
}
