"""The weights file: what it leaves out of the ImageNet backbone comes back bit for bit, from verified weights only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model.core.architecture import BASE_KEY, backbone_weights, build_classifier, load_weights_npz, save_weights_npz
from model.core.backbone import imagenet_xception_weights, weights_sha256
from model.errors import ChecksumMismatchError
from model.schema.card import CARD_FILE, WEIGHTS_FILE, load_card, read_record, sha256_file, write_card
from tests.helpers import TINY_SIZE


def _fine_tuned(seed: int):
    """A tiny model and, as its 'ImageNet' base, its own backbone before the last backbone array was trained."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_classifier(4, TINY_SIZE, "tiny")
    base = [np.asarray(v.numpy()) for v in backbone_weights(model)]
    trained = backbone_weights(model)[-1]
    trained.assign(trained.numpy() + 1.0)
    return model, base


def _source(base: list[np.ndarray]):
    """A base source that, like the real one, refuses arrays that do not hash to what the file names."""
    return lambda expected: imagenet_xception_weights(sources=[("test base", lambda: base)], expected=expected)


def test_arrays_equal_to_the_base_are_left_out_and_restored_bit_for_bit(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAIN_MRI_CACHE", str(tmp_path / "cache"))
    model, base = _fine_tuned(0)
    left_out = save_weights_npz(model, tmp_path / "w.npz", base)
    with np.load(tmp_path / "w.npz") as stored:
        assert str(stored[BASE_KEY]) == weights_sha256(base)
        assert len(stored.files) - 1 == len(model.weights) - left_out
    assert left_out == len(base) - 1  # every backbone array but the one trained

    restored = build_classifier(4, TINY_SIZE, "tiny")
    load_weights_npz(restored, tmp_path / "w.npz", base_source=_source(base))
    for ours, theirs in zip(model.weights, restored.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)


def test_a_base_that_is_not_the_one_the_file_names_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAIN_MRI_CACHE", str(tmp_path / "cache"))
    model, base = _fine_tuned(1)
    save_weights_npz(model, tmp_path / "w.npz", base)
    other = [array + 0.5 for array in base]
    with pytest.raises(ChecksumMismatchError, match="refusing"):
        load_weights_npz(build_classifier(4, TINY_SIZE, "tiny"), tmp_path / "w.npz", base_source=_source(other))


def test_a_file_without_a_base_must_hold_every_array(tmp_path):
    model, base = _fine_tuned(2)
    save_weights_npz(model, tmp_path / "w.npz", base)
    with np.load(tmp_path / "w.npz") as stored:
        arrays = {key: stored[key] for key in stored.files if key != BASE_KEY}
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(ValueError, match="no array for"):
        load_weights_npz(build_classifier(4, TINY_SIZE, "tiny"), tmp_path / "partial.npz")


def test_slimming_keeps_the_weights_and_the_results_recorded_for_the_old_file(trained, tmp_path):
    import shutil

    from model.core.predict import Classifier
    from training.fitting.artifact import slim_weights

    _, _, config, _ = trained
    artifact = tmp_path / "artifact"
    shutil.copytree(config.out_dir, artifact)
    with np.load(artifact / WEIGHTS_FILE) as stored:  # an older file of the same weights, stored otherwise
        np.savez_compressed(artifact / WEIGHTS_FILE, **{key: stored[key] for key in stored.files})
    card = json.loads((artifact / CARD_FILE).read_text())
    card["artifact"]["sha256"] = sha256_file(artifact / WEIGHTS_FILE)
    write_card(artifact, card)
    before = load_card(artifact)
    weights = [v.numpy() for v in Classifier.from_artifact(artifact, runtime="tensorflow").model.weights]
    block = slim_weights(artifact)
    after = load_card(artifact)
    assert after.weights_sha256 == block["sha256"] and after.same_weights_as == (before.weights_sha256,)
    assert after.describes(before.weights_sha256) and not after.describes("0" * 64)
    assert json.loads((artifact / CARD_FILE).read_text())["artifact"]["weights_file"] == WEIGHTS_FILE
    reloaded = Classifier.from_artifact(artifact, runtime="tensorflow").model.weights
    for ours, theirs in zip(weights, reloaded, strict=True):
        np.testing.assert_array_equal(ours, theirs.numpy())
    assert slim_weights(artifact)["same_weights_as"] == [before.weights_sha256]  # the same bytes again: no new name


@pytest.mark.artifact
def test_the_shipped_weights_file_leaves_the_imagenet_arrays_out():
    from model.core.predict import Classifier
    from model.schema.card import ARTIFACT_DIR

    card = load_card(ARTIFACT_DIR)
    with np.load(ARTIFACT_DIR / card.weights_file) as stored:
        held = len(stored.files) - 1
    model = Classifier.from_artifact(ARTIFACT_DIR, runtime="tensorflow").model
    left_out = read_record(ARTIFACT_DIR / CARD_FILE, CARD_FILE)["artifact"]["arrays_from_imagenet"]
    assert held == len(model.weights) - left_out < len(model.weights) // 4
    assert sum(int(np.prod(v.shape)) for v in model.weights) > 20_000_000  # the whole Xception, rebuilt
