"""Domain-generalisation transforms: views of a scan as another scanner, sequence or pipeline would give it.

The Sartaj tumour scans are one hospital's post-contrast T1 slices and its no-tumour scans mixed web images, so a
model can tell the classes apart by the look of the sequence. These transforms, applied to every class alike,
give each class every look, so the look stops predicting the class:

- `random_convolution`: a random shallow convolutional network mixed with the scan (global intensity and texture
  transform; GIN, Ouyang et al., "Causality-inspired single-source domain generalization for medical image
  segmentation", IEEE TMI 2022; RandConv, Xu et al., ICLR 2021);
- `random_intensity_curve`: a random non-monotonic remapping of the grey levels (BigAug, Zhang et al.,
  "Generalizing deep learning for medical image segmentation to unseen domains via deep stacked
  transformation", IEEE TMI 2020; with the contrast inversion `training.data.augment` already draws);
- `skull_stripped`: the brain alone, the scalp and skull removed, as skull-stripped research data (BraTS) comes;
- `resampled`: a coarser acquisition or a thumbnail, scaled down and up again;
- `rewindowed`: another display window, the grey levels clipped at random percentiles and stretched again.

Each takes its random draws from the generator it is given, in a fixed order, so a view can be replayed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from model.core.preprocess import crop_to_square, head_bbox, stretch_contrast

STRIP_DEPTHS = (0.08, 0.18)  # of the head's radius: the rim a skull-stripped view loses, drawn in this range
FOREGROUND = 0.03  # of full scale: darker pixels are background and stay black
_CONV_KERNELS = (1, 3)


def random_convolution(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """GIN: 2-3 random convolutions (1x1 or 3x3, 1-3 channels, leaky ReLU between), rescaled to the scan's
    foreground range and mixed with the scan by a random weight. `values` in [0, 1]."""
    foreground = values > FOREGROUND
    layers, width = int(rng.integers(2, 4)), int(rng.integers(1, 4))
    channels = [values.astype(np.float32)]
    for layer in range(layers):
        outputs = 1 if layer == layers - 1 else width
        kernel = int(rng.choice(_CONV_KERNELS))
        weights = rng.normal(0, 1, (outputs, len(channels), kernel, kernel)).astype(np.float32)
        mixed = [sum(ndimage.correlate(c, w, mode="nearest") for c, w in zip(channels, row)) for row in weights]
        channels = mixed if layer == layers - 1 else [np.where(m > 0, m, 0.2 * m) for m in mixed]
    out = channels[0]
    if foreground.sum() > 16:
        low, high = np.percentile(out[foreground], (1, 99))
        out = np.clip((out - low) / max(high - low, 1e-6), 0, 1)
    alpha = rng.uniform(0.0, 1.0)
    return np.where(foreground, alpha * out + (1 - alpha) * values, 0.0)


def random_intensity_curve(values: np.ndarray, rng: np.random.Generator, points: int = 4) -> np.ndarray:
    """A random piecewise-linear curve through `points` random levels (non-monotonic), background kept black."""
    x = np.linspace(0.0, 1.0, points + 1)
    y = np.concatenate([[rng.uniform(0.0, 0.2)], rng.uniform(0.0, 1.0, points)])
    return np.where(values > FOREGROUND, np.interp(values, x, y), 0.0)


def rewindowed(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Clips the foreground at a random low (0-10th) and high (90-100th) percentile and stretches it again."""
    foreground = values > FOREGROUND
    low_q, high_q = rng.uniform(0, 10), rng.uniform(90, 100)
    if foreground.sum() < 16:
        return values
    low, high = np.percentile(values[foreground], (low_q, high_q))
    return np.where(foreground, np.clip((values - low) / max(high - low, 1e-6), 0, 1), 0.0)


def resampled(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Scaled down by 0.25-0.75 and back up: the blur and blockiness of a coarser acquisition."""
    factor = rng.uniform(0.25, 0.75)
    small = (max(8, int(image.width * factor)), max(8, int(image.height * factor)))
    resample = Image.Resampling.BILINEAR if rng.random() < 0.5 else Image.Resampling.NEAREST
    return image.resize(small, Image.Resampling.BILINEAR).resize(image.size, resample)


def brain_mask(square: np.ndarray, depth: float) -> np.ndarray:
    """The head's mask (filled), eroded by `depth` x the head's radius, its largest part kept and filled.

    Scalp and skull form the head's outer rim, a few percent of its radius thick: what lies deeper than that is
    taken as brain. Crude next to a real skull stripper, which is the point: research pipelines differ too.
    """
    threshold = max(8.0, 0.1 * float(np.percentile(square, 99)))
    head = ndimage.binary_fill_holes(ndimage.binary_opening(square > threshold, iterations=2))
    if head.sum() < 64:
        return head
    distance = ndimage.distance_transform_edt(head)
    brain = distance > depth * np.sqrt(head.sum() / np.pi)
    labels, count = ndimage.label(brain)
    if count == 0:
        return head
    largest = np.argmax(ndimage.sum_labels(brain, labels, index=np.arange(1, count + 1))) + 1
    return ndimage.binary_fill_holes(labels == largest)


def skull_stripped(
    square: np.ndarray, outline: np.ndarray | None, depth: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """The brain alone, cropped and stretched again as the app's preprocessing would crop a skull-stripped scan;
    an outline follows the crop. The rim removed is `depth` x the head's radius (see `brain_mask`)."""
    stripped = np.where(brain_mask(square, depth), square, 0).astype(np.uint8)
    box = head_bbox(stripped)
    cropped = stretch_contrast(crop_to_square(stripped, box))
    return cropped, None if outline is None else crop_to_square(outline, box)
