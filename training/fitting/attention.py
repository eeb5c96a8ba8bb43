"""Outline-guided fine-tuning: reward the true class's activation map for lying inside the expert outline.

For a training view with an outline, CAM = ReLU(sum_k w_kc A_k) on the last conv layer (A, 10 x 10 at
299 px), c the target class, w the head's dense weights (with mixup, the target-weighted mix of classes).
The term is 1 - sum(CAM * outline) / sum(CAM), the share of the map's energy outside the outline, where
the outline is the area fraction of each grid cell that the tumour covers after the view's own geometric
augmentation. It is the energy-share form of GAIN's supervised attention (Li et al., CVPR 2018, §3.3)
and the map-level counterpart of "right for the right reasons" (Ross et al., IJCAI 2017). Views without
an outline (no_tumor, scans that are not figshare slices) add nothing. See training/PREREGISTRATION.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
from PIL import Image
from tqdm import tqdm

from model.core.architecture import LOGITS_LAYER
from training.data.augment import AugmentConfig
from training.data.features import outline_views
from training.data.masks import load_mask

_EPSILON = 1e-6


def outside_share(cam_features: tf.Tensor, kernel: tf.Tensor, targets: tf.Tensor, outlines: tf.Tensor) -> tf.Tensor:
    """Per view: 1 - energy share of the target's CAM inside the outline (cam_features b x g x g x k)."""
    class_weights = tf.matmul(tf.cast(targets, kernel.dtype), kernel, transpose_b=True)  # b x k
    cam = tf.nn.relu(tf.einsum("bhwk,bk->bhw", cam_features, class_weights))
    inside = tf.reduce_sum(cam * tf.cast(outlines, cam.dtype), axis=(1, 2))
    return 1.0 - inside / (tf.reduce_sum(cam, axis=(1, 2)) + _EPSILON)


def attention_loss(
    cam_features: tf.Tensor, kernel: tf.Tensor, targets: tf.Tensor, outlines: tf.Tensor, has_outline: tf.Tensor
) -> tf.Tensor:
    """Mean of `outside_share` over the views that have an outline (0 when none has)."""
    mask = tf.cast(has_outline, tf.float32)
    share = outside_share(cam_features, kernel, targets, outlines)
    return tf.reduce_sum(share * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


class OutlineGuided(keras.Model):
    """Trains `top` on cross-entropy + weight * attention_loss; evaluation, weights and saving are `top`'s."""

    def __init__(self, top: keras.Model, with_cam: keras.Model, weight: float):
        """`with_cam`: the same layers as `top`, also returning the last conv activations (`cam_top`)."""
        super().__init__()
        self.top = top
        self.weight = weight
        self._with_cam = with_cam
        self._kernel = top.get_layer(LOGITS_LAYER).kernel
        self._attention = keras.metrics.Mean(name="attention")

    def call(self, inputs, training=False):
        return self.top(inputs, training=training)

    @property
    def metrics(self):
        """Without the attention tracker: validation views carry no outlines, so it has no validation value."""
        return [m for m in super().metrics if m is not self._attention]

    def reset_metrics(self) -> None:
        super().reset_metrics()
        self._attention.reset_state()

    def train_step(self, data):
        (inputs, outlines, has_outline), targets, sample_weight = data
        variables = self.top.trainable_variables
        with tf.GradientTape() as tape:
            cam_features, logits = self._with_cam(inputs, training=True)
            loss = self._compute_loss(x=inputs, y=targets, y_pred=logits, sample_weight=sample_weight, training=True)
            attention = attention_loss(cam_features, self._kernel, targets, outlines, has_outline)
            total = loss + self.weight * attention
        self._loss_tracker.update_state(loss, sample_weight=tf.shape(inputs)[0])
        self._attention.update_state(attention)
        self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        metrics = self.compute_metrics(inputs, targets, logits, sample_weight=sample_weight)
        return {**metrics, "attention": self._attention.result()}


def to_grid(outline: np.ndarray, grid: int) -> np.ndarray:
    """Area fraction of each of grid x grid cells covered by a [0, 1] outline."""
    return np.asarray(Image.fromarray(outline.astype(np.float32), mode="F").resize((grid, grid), Image.Resampling.BOX))


def outline_rows(
    paths: Sequence[Path],
    scans: Sequence[str | None],
    images: np.ndarray,
    masks_dir: Path,
    views: int,
    grid: int,
    seed: int,
    config: AugmentConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """(outlines, has_outline) for every cached row (image i, view v at i * views + v), filled for `images`.

    Each view's outline goes through the geometry that view's image went through, replayed from the same
    per-image random generator the frozen-layer cache used.
    """
    outlines = np.zeros((len(paths) * views, grid, grid), np.float32)
    has_outline = np.zeros(len(paths) * views, bool)
    for index in tqdm(images, desc="outlines of the training views", unit="img"):
        scan = scans[index]
        mask = None if scan is None else load_mask(masks_dir, scan)
        if mask is None:
            continue
        rng = np.random.default_rng([seed, int(index)])
        rows = slice(index * views, (index + 1) * views)
        outlines[rows] = [to_grid(o, grid) for o in outline_views(paths[index], mask, views, rng, config)]
        has_outline[rows] = outlines[rows].sum(axis=(1, 2)) > 0
    return outlines, has_outline
