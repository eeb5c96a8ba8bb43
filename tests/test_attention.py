import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from model.schema.card import CLASS_DIRS
from tests.helpers import synthetic_scan, tumour_mask
from training.data.augment import AugmentConfig
from training.data.features import outline_views, render_views
from training.fitting.attention import attention_loss, outside_share, to_grid
from training.fitting.train import CachedRows, train

GRID = 4


def one_hot(index: int) -> tf.Tensor:
    return tf.constant(np.eye(len(CLASS_DIRS), dtype=np.float32)[[index]])


def features_lit_at(cells: list[tuple[int, int]]) -> tf.Tensor:
    """One channel that is 1 in the given cells; the head's kernel maps it to class 0."""
    features = np.zeros((1, GRID, GRID, 1), np.float32)
    for y, x in cells:
        features[0, y, x, 0] = 1.0
    return tf.constant(features)


KERNEL = tf.constant(np.array([[1.0, -1.0, 0.0, 0.0]], np.float32))  # channels x classes
OUTLINE = np.zeros((1, GRID, GRID), np.float32)
OUTLINE[0, 1, 1] = 1.0


def test_a_map_inside_the_outline_costs_nothing_and_one_outside_costs_one():
    inside = outside_share(features_lit_at([(1, 1)]), KERNEL, one_hot(0), tf.constant(OUTLINE))
    outside = outside_share(features_lit_at([(3, 3)]), KERNEL, one_hot(0), tf.constant(OUTLINE))
    half = outside_share(features_lit_at([(1, 1), (3, 3)]), KERNEL, one_hot(0), tf.constant(OUTLINE))
    assert float(inside[0]) == pytest.approx(0, abs=1e-5)
    assert float(outside[0]) == pytest.approx(1)
    assert float(half[0]) == pytest.approx(0.5)


def test_only_views_with_an_outline_count():
    features = tf.concat([features_lit_at([(3, 3)]), features_lit_at([(1, 1)])], axis=0)
    targets = tf.concat([one_hot(0), one_hot(0)], axis=0)
    outlines = tf.constant(np.concatenate([OUTLINE, OUTLINE]))
    assert float(attention_loss(features, KERNEL, targets, outlines, tf.constant([False, True]))) == pytest.approx(
        0, abs=1e-5
    )
    assert float(attention_loss(features, KERNEL, targets, outlines, tf.constant([False, False]))) == 0.0


def test_each_views_outline_follows_that_views_flip_rotation_and_crop(tmp_path):
    """With intensity changes off, the blob's bright pixels in every rendered view sit under its outline."""
    geometry_only = AugmentConfig(gamma_log_range=0, contrast_range=0, p_equalize=0, p_invert=0, p_blur=0, p_noise=0)
    scan = synthetic_scan(0, np.random.default_rng(2), size=128)
    path = tmp_path / "scan.png"
    Image.fromarray(scan).save(path)
    size = 64
    images = render_views(path, 5, size, np.random.default_rng([7, 0]), geometry_only)
    outlines = outline_views(path, tumour_mask(0, 128), 5, np.random.default_rng([7, 0]), geometry_only)
    for image, outline in zip(images, outlines):
        resized = np.asarray(Image.fromarray(outline.astype(np.float32), mode="F").resize((size, size))) > 0.5
        bright = image[..., 0] > 0.8
        assert (bright & resized).sum() / bright.sum() > 0.8
    side = outlines[0].shape[0]
    assert to_grid(outlines[0], 8).sum() * (side / 8) ** 2 == pytest.approx(outlines[0].sum(), rel=0.05)


def test_a_mixed_pair_keeps_the_union_of_outlines_only_when_both_have_one():
    cache = np.zeros((4, 2, 2, 1), np.float16)
    grids = np.zeros((4, GRID, GRID), np.float32)
    grids[0, 0, 0], grids[1, 3, 3] = 1, 1
    flags = np.array([True, True, False, False])
    rows = CachedRows(cache, np.arange(4), np.array([0, 1, 2, 3]), 1, 4, 4, seed=0, mixup=0.4, outlines=(grids, flags))
    (inputs, outlines, has_outline), _ = rows[0]
    order = rows.rows
    for i in range(4):
        assert has_outline[i] <= flags[order[i]]
        assert outlines[i].sum() >= grids[order[i]].sum()


def test_attention_weight_zero_trains_exactly_as_without_outlines(trained, tmp_path, monkeypatch):
    root, _, config, card = trained
    monkeypatch.setenv("BRAIN_MRI_CACHE", str(root / "cache"))
    with_masks = dataclasses.replace(config, masks_dir=root / "masks", out_dir=tmp_path / "a", run_dir=tmp_path / "r")
    again = train(with_masks)
    assert again.weights_sha256 == card.weights_sha256
    assert again.history.stage2_finetune == card.history.stage2_finetune


def test_a_positive_attention_weight_trains_with_the_term_and_says_so(trained, tmp_path, monkeypatch):
    root, _, config, _ = trained
    monkeypatch.setenv("BRAIN_MRI_CACHE", str(root / "cache"))
    guided = dataclasses.replace(
        config, masks_dir=root / "masks", attention_weight=1.0, out_dir=tmp_path / "a", run_dir=tmp_path / "r"
    )
    card = train(guided)
    stage2 = card.history.stage2_finetune
    assert len(stage2["attention"]) == len(stage2["loss"]) and "val_attention" not in stage2
    assert card.training_config.attention_weight == 1.0 and card.timings.outline_views_s > 0


def test_a_positive_attention_weight_without_outlines_is_refused(trained, tmp_path):
    _, _, config, _ = trained
    with pytest.raises(ValueError, match="masks-dir"):
        train(dataclasses.replace(config, attention_weight=1.0, out_dir=tmp_path / "a", run_dir=tmp_path / "r"))
