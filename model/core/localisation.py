"""Does a saliency map point at the tumour? Scores of one map against one expert outline.

All three take a map and an outline of the same size (the prepared scan's, see
`model.core.preprocess.prepare_outline`):

- pointing game (Zhang et al., ECCV 2016 / IJCV 2018): a hit when the map's
  maximum lies inside the outline or within a tolerance of it (15 px at 299 px,
  scaled with the image); ties at the maximum count as the share of tied pixels
  that hit, which is what a random tie-break scores on average, so a flat map
  scores the chance level;
- energy share: the fraction of the map's total inside the outline; a uniform
  map scores the outline's area share;
- AUPRC: average precision of the map as a pixel-wise score for the outline;
  a uniform map scores the outline's area share too.

Baselines that know nothing about the scan but where the head is: a uniform map
and a centred Gaussian inside the head.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt
from sklearn.metrics import average_precision_score

POINTING_TOLERANCE_PX = 15
POINTING_TOLERANCE_AT = 299  # the tolerance is 15 px at this image size and scales with it
HEAD_THRESHOLD = 8  # prepared pixels above this are head (the background is near black)
GAUSSIAN_SIGMA = 0.25  # of the image side
HIT = 0.5  # a pointing-game score counted as a hit: the peak (most of a tied peak) on the outline


def pointing_tolerance(size: int) -> float:
    return POINTING_TOLERANCE_PX * size / POINTING_TOLERANCE_AT


def pointing_hit(heatmap: np.ndarray, outline: np.ndarray) -> float:
    """1.0 when the maximum lies within the tolerance of the outline, 0.0 when not; a tie scores its hit share."""
    near = distance_transform_edt(~outline) <= pointing_tolerance(outline.shape[0])
    peaks = heatmap >= heatmap.max()
    return float(near[peaks].mean())


def energy_share(heatmap: np.ndarray, outline: np.ndarray) -> float:
    total = float(heatmap.sum())
    return float(heatmap[outline].sum()) / total if total > 0 else float(outline.mean())


def area_share(outline: np.ndarray) -> float:
    return float(outline.mean())


def auprc(heatmap: np.ndarray, outline: np.ndarray) -> float:
    return float(average_precision_score(outline.ravel(), heatmap.ravel()))


def lands_on_outline(found: dict[str, float]) -> bool:
    """A hit of the pointing game: the map's peak (most of its tied peak pixels) inside the outline."""
    return found["pointing_game"] >= HIT


def scores(heatmap: np.ndarray, outline: np.ndarray) -> dict[str, float]:
    """Every score of one map against one outline (the outline must hold at least one pixel)."""
    if not outline.any():
        raise ValueError("the outline is empty")
    return {
        "pointing_game": pointing_hit(heatmap, outline),
        "energy_share": energy_share(heatmap, outline),
        "auprc": auprc(heatmap, outline),
    }


def head_region(prepared: np.ndarray) -> np.ndarray:
    gray = prepared[..., 0] if prepared.ndim == 3 else prepared
    return gray > HEAD_THRESHOLD


def uniform_map(prepared: np.ndarray) -> np.ndarray:
    return np.ones(prepared.shape[:2], np.float32)


def centred_gaussian_map(prepared: np.ndarray) -> np.ndarray:
    """A Gaussian bump at the image centre, zero outside the head: 'the tumour is somewhere in the middle'."""
    size = prepared.shape[0]
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    centre, sigma = (size - 1) / 2, GAUSSIAN_SIGMA * size
    bump = np.exp(-((yy - centre) ** 2 + (xx - centre) ** 2) / (2 * sigma**2))
    return np.where(head_region(prepared), bump, 0).astype(np.float32)
