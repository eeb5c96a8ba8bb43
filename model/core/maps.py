"""What a saliency map is, apart from how it is computed: method names, the map, its scale and overlay.

TensorFlow-free, so that pages and reports can name the methods and draw maps without loading the model;
`model.core.explain` computes the maps. Matplotlib and SciPy load on first use: a server that only classifies
never needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

GRAD_CAM, GRAD_CAM_PLUS_PLUS, SCORE_CAM, SMOOTHGRAD = "Grad-CAM", "Grad-CAM++", "Score-CAM", "SmoothGrad"
METHODS = (GRAD_CAM, GRAD_CAM_PLUS_PLUS, SCORE_CAM, SMOOTHGRAD)

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Explanation:
    method: str
    class_index: int
    heatmap: np.ndarray  # size x size, float32 in [0, 1]: the map scaled to its own range
    seconds: float
    scale: float = 1.0  # the map's own range (max - min) before scaling, in the method's units

    def on_scale(self, reference: float) -> np.ndarray:
        """The map on a fixed scale shared by every scan and class: 1 = `reference` (see `absolute_scales`)."""
        return np.clip(self.heatmap * (self.scale / reference), 0.0, 1.0) if reference > 0 else self.heatmap


def normalise(values: np.ndarray) -> tuple[np.ndarray, float]:
    """(map scaled to [0, 1], its range before scaling)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float32))
    values = values - values.min()
    peak = float(values.max())
    return (values / peak if peak > 0 else values), peak


def upsample(cam: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear, corners aligned: the same upsampling tf-keras-vis uses (scipy zoom, order 1)."""
    from scipy.ndimage import zoom

    factors = (shape[0] / cam.shape[0], shape[1] / cam.shape[1]) + (1.0,) * (cam.ndim - 2)  # channels stay
    return zoom(cam, factors, order=1)


def overlay(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45, colormap: str = "jet") -> np.ndarray:
    """Blends a [0, 1] heatmap, coloured with a Matplotlib colormap, onto a uint8 RGB image."""
    import matplotlib

    colours = matplotlib.colormaps[colormap](np.clip(heatmap, 0, 1))[..., :3] * 255.0
    blended = (1 - opacity) * image.astype(np.float32) + opacity * colours
    return np.clip(blended, 0, 255).astype(np.uint8)
