import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from model.core.architecture import build_classifier, save_weights_npz
from model.core.predict import Classifier
from model.errors import ChecksumMismatchError, EmptyFileError
from model.schema.card import load_card, write_card
from tests.helpers import ROOT, TINY_SIZE, sample_scans


def test_probabilities_are_calibrated_softmax_of_logits(tiny_classifier):
    x = np.random.default_rng(0).uniform(-1, 1, (3, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    for prediction in tiny_classifier.predict_inputs(x):
        expected = np.exp(prediction.logits / 1.5) / np.exp(prediction.logits / 1.5).sum()
        np.testing.assert_allclose(prediction.probabilities, expected, rtol=1e-5)
        assert prediction.class_index == int(np.argmax(prediction.logits))
        assert 0 <= prediction.margin <= prediction.confidence <= 1


def test_classify_upload_decodes_and_raises_typed_errors(tiny_classifier):
    from tests.helpers import JPEG

    classified = tiny_classifier.classify_upload(JPEG, "a.jpg")
    assert classified.prepared.shape == (TINY_SIZE, TINY_SIZE, 3)
    with pytest.raises(EmptyFileError):
        tiny_classifier.classify_upload(b"", "empty.jpg")


def test_concurrent_calls_give_the_same_answers(tiny_classifier):
    rng = np.random.default_rng(1)
    inputs = [rng.uniform(-1, 1, (1, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32) for _ in range(8)]
    sequential = [tiny_classifier.predict_inputs(x)[0].probabilities for x in inputs]
    results = [None] * 8

    def work(i):
        for _ in range(5):
            results[i] = tiny_classifier.predict_inputs(inputs[i])[0].probabilities

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(sequential, results):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_tampered_weights_are_refused(tmp_path):
    from tests.helpers import tiny_card_data

    model = build_classifier(4, TINY_SIZE, "tiny")
    save_weights_npz(model, tmp_path / "w.npz")
    write_card(tmp_path, tiny_card_data(artifact={"weights_file": "w.npz", "sha256": "f" * 64}))
    with pytest.raises(ChecksumMismatchError, match="model card"):
        Classifier.from_artifact(tmp_path)


# ---- the committed artifact ------------------------------------------------------------------------


@pytest.mark.artifact
def test_the_app_answers_on_each_sample_what_the_evaluation_recorded_for_its_testing_scan(real_classifier):
    """The samples are shrunk copies of Testing scans (`python -m training samples`): through the app's path the
    committed model must give each the class and guard verdict the committed evaluation recorded for the original,
    whether that was right or not."""
    from model.schema.card import ARTIFACT_DIR
    from model.schema.records import Evaluation, load
    from training.evaluation.samples import sample_file_name

    evaluation = load(Evaluation, ARTIFACT_DIR)
    assert evaluation is not None
    recorded = {sample_file_name(r.path, kind): r for r in evaluation.images for kind in ("new", "copy", "outlined")}
    from_testing = [path for path, _ in sample_scans() if path.name in recorded]
    assert len(from_testing) >= 4
    for path in from_testing:
        prediction = real_classifier.classify_upload(path.read_bytes(), path.name).prediction
        assert prediction.class_index == recorded[path.name].predicted, path.name
        assert prediction.out_of_distribution == recorded[path.name].out_of_distribution, path.name


# ---- classification without TensorFlow -------------------------------------------------------------

NO_TENSORFLOW = """
import sys
import numpy as np
from model.core.predict import Classifier
import model.core.batch, pages.shared.scans  # what the Classify page and the CLI import
classifier = Classifier.from_artifact(sys.argv[1])
size = classifier.card.image_size
classifier.predict_inputs(np.zeros((2, size, size, 3), np.float32))
print(sorted(m for m in ("tensorflow", "keras", "tf_keras_vis") if m in sys.modules))
"""


def test_an_onnx_artifact_classifies_without_importing_tensorflow(trained):
    _, _, config, _ = trained
    run = subprocess.run(
        [sys.executable, "-c", NO_TENSORFLOW, str(config.out_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_keras_weights_are_checked_when_first_needed(trained, tmp_path):
    _, _, config, _ = trained
    copy = shutil.copytree(config.out_dir, tmp_path / "artifact")
    weights = copy / load_card(copy).weights_file
    data = weights.read_bytes()
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    classifier = Classifier.from_artifact(copy)  # the ONNX export and the guard are intact
    size = classifier.card.image_size
    assert len(classifier.predict_inputs(np.zeros((1, size, size, 3), np.float32))) == 1
    assert not classifier.keras_loaded
    with pytest.raises(ChecksumMismatchError, match="model card"):
        classifier.model
