"""Class activation maps from the ONNX forward pass: Grad-CAM, Grad-CAM++ and Score-CAM without TensorFlow.

The classifier ends in global average pooling and one dense layer (logits = W^T mean(A) + b, dropout off at
inference), so the gradient of logit c with respect to the last conv activations A is W[:, c] / (h w) at every
position. Grad-CAM's channel weights are therefore W[:, c] / (h w): for this head Grad-CAM (Selvaraju et al., ICCV
2017) is the class activation map of Zhou et al. (CVPR 2016). Grad-CAM++ with the exponential score (Chattopadhay
et al., WACV 2018, eq. 19) needs only those constant gradients and each channel's spatial sum. Faster Score-CAM
(Wang et al., CVPRW 2020; the `max_N` channels of largest spread, as tf-keras-vis does) needs forward passes only.
tests/test_explain.py checks each against tf-keras-vis on real scans.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from model.core.maps import upsample
from model.core.registry import LOGITS_LAYER

SCORE_CAM_MAX_N = 10
Logits = Callable[[np.ndarray], np.ndarray]  # a batch of model inputs -> their logits


@dataclass(frozen=True)
class DenseHead:
    """The logits layer: kernel (channels x classes) and bias."""

    kernel: np.ndarray
    bias: np.ndarray

    @classmethod
    def from_weights_file(cls, path: Path) -> DenseHead:
        """Read from the artifact's weights file, whose SHA-256 the caller has checked."""
        with np.load(path, allow_pickle=False) as stored:
            keys = {key.split(":", 1)[-1]: key for key in stored.files}
            kernel, bias = (stored[keys[f"{LOGITS_LAYER}/{name}"]] for name in ("kernel", "bias"))
        return cls(kernel.astype(np.float32), bias.astype(np.float32))


def logit_gradient(activations: np.ndarray, head: DenseHead, class_index: int) -> np.ndarray:
    """d logit / d activations: one value per channel, the same at every one of the h x w positions."""
    return head.kernel[:, class_index] / float(activations.shape[0] * activations.shape[1])


def grad_cam(activations: np.ndarray, head: DenseHead, class_index: int) -> np.ndarray:
    """h x w map of one image's last conv activations (h x w x channels)."""
    return np.maximum(activations @ logit_gradient(activations, head, class_index), 0.0)


def grad_cam_plus_plus(activations: np.ndarray, head: DenseHead, class_index: int) -> np.ndarray:
    """Grad-CAM++'s alphas g^2 / (2 g^2 + sum(A) g^3), summed over positions, weigh the positive gradients."""
    gradient = logit_gradient(activations, head, class_index)
    denominator = 2.0 * gradient**2 + activations.sum(axis=(0, 1)) * gradient**3
    alphas = gradient**2 / np.where(denominator != 0.0, denominator, 1.0)
    positions = activations.shape[0] * activations.shape[1]
    return np.maximum(activations @ (positions * alphas * np.maximum(gradient, 0.0)), 0.0)


def score_cam_masks(activations: np.ndarray, size: int, max_n: int = SCORE_CAM_MAX_N) -> tuple[np.ndarray, np.ndarray]:
    """The `max_n` most varied channels (h x w x n) and the same as masks upsampled, in [0, 1] (n x size x size)."""
    channels = np.argsort(-activations.std(axis=(0, 1)), kind="stable")[:max_n]
    selected = activations[..., channels]
    upsampled = np.moveaxis(upsample(selected, (size, size)), -1, 0)
    low = upsampled.min(axis=(1, 2), keepdims=True)
    high = upsampled.max(axis=(1, 2), keepdims=True)
    return selected, (upsampled - low) / (high - low + 1e-7)


def score_cam(
    activations: np.ndarray, image: np.ndarray, class_index: int, logits: Logits, max_n: int = SCORE_CAM_MAX_N
) -> np.ndarray:
    """Channel weights = the class probability of the image masked by each channel's map (one batched pass)."""
    from scipy.special import softmax

    selected, masks = score_cam_masks(activations, image.shape[0], max_n)
    probabilities = softmax(logits(image[None] * masks[..., None]), axis=-1)[:, class_index]
    return np.maximum(selected @ probabilities.astype(np.float32), 0.0)
