"""The scan-type recogniser: fitted on known sequences, unsure below its threshold, SHA-checked, on every result."""

import shutil
from dataclasses import replace

import numpy as np
import pytest

from model.core.batch import result_row
from model.core.predict import Classifier
from model.core.scan_type import SEQUENCES, UNSURE, ScanTypeModel
from model.errors import ChecksumMismatchError
from model.schema.card import load_card
from model.schema.records import ScanTypeEvaluation, read
from training.scan_type import fit, fit_scan_type


def clustered(seed: int = 0, per: int = 60):
    """Features in three clusters (one per sequence); the second half of each cluster 'skull-stripped'."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (3, 8))
    x = np.concatenate([centres[k] + rng.normal(0, 1, (per, 8)) for k in range(3)])
    stripped = np.tile(np.repeat([0, 1], per // 2), 3)
    x[stripped == 1, 0] += 6
    return x, [SEQUENCES[k] for k in range(3) for _ in range(per)], stripped


def test_the_recogniser_names_each_sequence_and_says_unsure_far_from_all(tmp_path):
    x, sequences, stripped = clustered()
    model = fit(x, sequences, stripped)
    model.unsure_below = 0.6
    found = model.recognise(x)
    assert np.mean([f.sequence == s for f, s in zip(found, sequences)]) > 0.9
    assert np.mean([f.skull_stripped == bool(t) for f, t in zip(found, stripped)]) > 0.9
    mixed = model.recognise(x[[0]] * 0 + x.mean(axis=0))[0]  # between the clusters
    model.unsure_below = 1.0
    assert model.recognise(x[:1])[0].sequence == UNSURE
    model.save(tmp_path / "scan_type.npz")
    again = ScanTypeModel.load(tmp_path / "scan_type.npz")
    assert again.recognise(x[:5]) == model.recognise(x[:5]) and mixed.sequence_probability < 1


def test_fitted_on_a_run_the_recogniser_reaches_every_prediction_and_the_csv(trained, tmp_path):
    root, data, config, _ = trained
    artifact = shutil.copytree(config.out_dir, tmp_path / "artifact")
    report = fit_scan_type(artifact, data, tmp_path / "scan_type.json")
    written = read(ScanTypeEvaluation, tmp_path / "scan_type.json")
    assert written.validation.n == report["validation"]["n"] > 0
    assert np.array(written.validation.confusion_matrix).shape == (3, 4)
    assert load_card(artifact).scan_type.unsure_below == pytest.approx(report["unsure_below"])
    classifier = Classifier.from_artifact(artifact)
    [prediction] = classifier.predict_inputs(np.zeros((1, config.image_size, config.image_size, 3), np.float32))
    assert prediction.scan_type is not None and prediction.scan_type.sequence in (*SEQUENCES, UNSURE)
    names = classifier.card.class_names
    accepted, flagged = replace(prediction, out_of_distribution=False), replace(prediction, out_of_distribution=True)
    assert result_row("a.png", names, accepted)["sequence"] == prediction.scan_type.sequence
    assert result_row("a.png", names, flagged)["sequence"] is None  # not a brain MRI: no scan type either
    (artifact / "scan_type.npz").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatchError):
        Classifier.from_artifact(artifact)


def test_the_accuracy_on_a_kind_pools_every_other_source_of_that_sequence_and_skips_sartaj():
    from model.core.scan_type import ScanType
    from model.report.scan_type_report import accuracy_on_kind
    from model.schema.records import GroupRescored
    from model.schema.tables import GroupScores

    def group(n: int, accuracy: float) -> GroupScores:
        return GroupScores(n, nll_at_fitted_temperature=0.5, temperature=1, accuracy=accuracy, tumour_sensitivity=None)

    groups = {"a/T2": group(10, 0.5), "b/T2": group(30, 0.9), "a/T1": group(5, 0.0), "sartaj": group(100, 1.0)}
    row = GroupRescored("a", "run", "c", ["sartaj"], "s", 0.5, "a/T2", 0.5, 0.9, groups, "cpu", None)
    said = accuracy_on_kind(ScanType("T2", 0.9, False, 0.0), row)
    assert "80%" in said and "n = 40" in said
    assert "No held-out scans" in accuracy_on_kind(ScanType("T1C+", 0.9, False, 0.0), row)
    assert "not trained or checked" in accuracy_on_kind(ScanType(UNSURE, 0.4, False, 0.0), row)
