"""The ONNX export: written by training, checked by hash at load, computing what the Keras model computes."""

from dataclasses import asdict

import numpy as np
import pytest

from model.core.predict import Classifier
from model.errors import ArtifactError, ChecksumMismatchError
from model.schema.card import CARD_FILE, ONNX_FILE, read_record, sha256_file, write_card
from tests.helpers import TINY_SIZE, sample_scans
from training.fitting.export import TOLERANCE


def test_export_is_recorded_in_the_card_and_used_by_default(tiny_onnx_artifact):
    root, card = tiny_onnx_artifact
    block = read_record(root / CARD_FILE, CARD_FILE)["onnx"]
    assert card.onnx is not None and block == asdict(card.onnx) and card.onnx.file == ONNX_FILE
    assert card.onnx.sha256 == sha256_file(root / ONNX_FILE)
    assert card.onnx.max_logit_difference_vs_tensorflow < TOLERANCE
    assert Classifier.from_artifact(root).onnx is not None
    assert Classifier.from_artifact(root, runtime="tensorflow").onnx is None


def test_onnx_runtime_computes_what_tensorflow_computes(tiny_onnx_artifact):
    root, _ = tiny_onnx_artifact
    onnx, tensorflow = Classifier.from_artifact(root), Classifier.from_artifact(root, runtime="tensorflow")
    x = np.random.default_rng(1).uniform(-1, 1, (3, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    for ours, theirs in zip(onnx.forward(x), tensorflow.forward(x)):
        np.testing.assert_allclose(ours, theirs, atol=TOLERANCE)
    assert [p.class_index for p in onnx.predict_inputs(x)] == [p.class_index for p in tensorflow.predict_inputs(x)]


def test_tampered_or_missing_export_is_refused(tiny_onnx_artifact, tmp_path):
    root, _ = tiny_onnx_artifact
    for name in ("w.npz", CARD_FILE, ONNX_FILE):
        (tmp_path / name).write_bytes((root / name).read_bytes())
    with open(tmp_path / ONNX_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ChecksumMismatchError):
        Classifier.from_artifact(tmp_path)
    (tmp_path / ONNX_FILE).unlink()
    with pytest.raises(ArtifactError, match="missing"):
        Classifier.from_artifact(tmp_path)
    card = read_record(tmp_path / CARD_FILE, CARD_FILE)
    del card["onnx"]
    write_card(tmp_path, card)
    with pytest.raises(ArtifactError, match="no ONNX export"):
        Classifier.from_artifact(tmp_path, runtime="onnx")


@pytest.mark.artifact
def test_committed_export_agrees_with_the_keras_model_on_the_sample_scans(real_classifier):
    assert real_classifier.onnx is not None, "the committed card should list the ONNX export"
    reference = Classifier.from_artifact(runtime="tensorflow")
    for path, _ in sample_scans():
        ours = real_classifier.classify_upload(path.read_bytes(), path.name).prediction
        theirs = reference.classify_upload(path.read_bytes(), path.name).prediction
        assert ours.class_index == theirs.class_index, path.name
        np.testing.assert_allclose(ours.probabilities, theirs.probabilities, atol=0.01, err_msg=path.name)
