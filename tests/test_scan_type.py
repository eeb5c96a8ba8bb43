"""The scan-type recogniser: fitted on known sequences, unsure below its threshold, SHA-checked, on every result."""

import shutil
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from model.core.batch import result_row
from model.core.predict import Classifier
from model.core.scan_type import SEQUENCES, UNSURE, ScanTypeModel
from model.core.volume import PLANES, Plane
from model.errors import ArtifactError, ChecksumMismatchError
from model.schema.card import load_card
from model.schema.records import ScanTypeEvaluation, read
from tests.helpers import sample_scans
from training.fitting.scan_type import Views, fit, fit_scan_type, scores


def clustered(seed: int = 0, per: int = 60) -> Views:
    """Features in three clusters (one per sequence); the second half of each cluster 'skull-stripped', every third
    view of each in each plane (a shift along a feature of its own)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (3, 8))
    x = np.concatenate([centres[k] + rng.normal(0, 1, (per, 8)) for k in range(3)])
    stripped = np.tile(np.repeat([0, 1], per // 2), 3)
    x[stripped == 1, 0] += 6
    planes = [PLANES[i % 3] for i in range(len(x))]
    x[:, 1] += 6 * np.array([PLANES.index(p) for p in planes])
    sequences: list[str | None] = [SEQUENCES[k] for k in range(3) for _ in range(per)]
    return Views(x, sequences, stripped, np.array(["a"] * len(x)), list(planes))


def test_the_recogniser_names_each_sequence_and_plane_and_says_unsure_far_from_all(tmp_path):
    views = clustered()
    x, sequences, stripped = views.x, views.sequences, views.stripped
    model = fit(views)
    model.unsure_below = 0.6
    found = model.recognise(x)
    assert np.mean([f.sequence == s for f, s in zip(found, sequences)]) > 0.9
    assert np.mean([f.skull_stripped == bool(t) for f, t in zip(found, stripped)]) > 0.9
    assert np.mean([f.plane == p for f, p in zip(found, views.planes)]) > 0.9
    assert scores(model, views)["plane_accuracy"] > 0.9
    with pytest.raises(ValueError, match="lack a plane"):
        fit(replace(views, planes=[p if p is not Plane.SAGITTAL else None for p in views.planes]))
    mixed = model.recognise(x[[0]] * 0 + x.mean(axis=0))[0]  # between the clusters
    model.unsure_below = 1.0
    assert model.recognise(x[:1])[0].sequence == UNSURE
    model.save(tmp_path / "scan_type.npz")
    again = ScanTypeModel.load(tmp_path / "scan_type.npz")
    assert again.recognise(x[:5]) == model.recognise(x[:5]) and mixed.sequence_probability < 1
    with np.load(tmp_path / "scan_type.npz") as stored:  # a file from before the plane was recognised
        np.savez(tmp_path / "old.npz", **{k: stored[k] for k in stored.files if not k.startswith("plane")})
    with pytest.raises(ArtifactError, match="plane_coef"):
        ScanTypeModel.load(tmp_path / "old.npz")


def test_fitted_on_a_run_the_recogniser_reaches_every_prediction_and_the_csv(trained, tmp_path):
    root, data, config, _ = trained
    artifact = shutil.copytree(config.out_dir, tmp_path / "artifact")
    planes = {
        "glioma_tumor": "coronal",
        "pituitary_tumor": "sagittal",
        "no_tumor": "axial",
        "meningioma_tumor": "axial",
    }
    rows = [f"Training/{folder}/{i}.jpg,{plane}" for folder, plane in planes.items() for i in range(16)]
    (tmp_path / "planes.csv").write_text("\n".join(["scan,plane", *rows]) + "\n")
    report = fit_scan_type(artifact, data, tmp_path / "scan_type.json", planes_file=tmp_path / "planes.csv")
    written = read(ScanTypeEvaluation, tmp_path / "scan_type.json")
    assert written.validation.n == report["validation"]["n"] > 0
    assert np.array(written.validation.confusion_matrix).shape == (len(SEQUENCES), len(SEQUENCES) + 1)
    assert load_card(artifact).scan_type.unsure_below == pytest.approx(report["unsure_below"])
    classifier = Classifier.from_artifact(artifact)
    [prediction] = classifier.predict_inputs(np.zeros((1, config.image_size, config.image_size, 3), np.float32))
    assert prediction.scan_type is not None and prediction.scan_type.sequence in (*SEQUENCES, UNSURE)
    names = classifier.card.class_names
    accepted, flagged = replace(prediction, out_of_distribution=False), replace(prediction, out_of_distribution=True)
    assert result_row("a.png", names, accepted)["sequence"] == prediction.scan_type.sequence
    assert result_row("a.png", names, accepted)["plane"] == prediction.scan_type.plane.value
    assert written.validation.plane_n > 0 and len(written.validation.plane_confusion_matrix) == len(PLANES)
    assert result_row("a.png", names, flagged)["sequence"] is None  # not a brain MRI: no scan type either
    (artifact / "scan_type.npz").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatchError):
        Classifier.from_artifact(artifact)


def test_the_accuracy_on_a_kind_is_that_kinds_own_figure_never_another_kinds():
    from model.core.scan_type import ScanType
    from model.core.trust import Trust
    from model.report.scan_type_report import accuracy_on_kind, type_sentences, validated_sentence
    from model.schema.records import ScanTypeThresholds

    trust = Trust(
        0.5,
        0.5,
        {
            "T2 axial": ScanTypeThresholds(40, 0.3, 0.6, accuracy=0.8),
            "T1C+ axial": ScanTypeThresholds(80, 0.2, 0.5, accuracy=0.95),
            "T1C+ stripped axial": ScanTypeThresholds(50, 0.4, 0.7, accuracy=0.7, rendered_share=1.0),
            "T1 stripped axial": ScanTypeThresholds(12, 0.4, 0.7, accuracy=0.99),
            "T1C+ coronal": ScanTypeThresholds(90, 0.2, 0.5, accuracy=0.6),
        },
    )
    said = accuracy_on_kind(ScanType("T2", 0.9, False, 0.0), trust)
    assert "80%" in said and "40" in said
    stripped = accuracy_on_kind(ScanType("T1C+", 0.9, True, 0.9), trust)
    assert stripped.startswith("Not validated on skull-stripped axial T1 with contrast scans")
    assert "70%" in stripped and "95%" not in stripped and "skull-stripped by us" in stripped
    unvalidated = accuracy_on_kind(ScanType("T1", 0.9, True, 0.9), trust)
    assert "Not validated on skull-stripped axial T1 scans" in unvalidated and "%" not in unvalidated
    assert "Not validated" in accuracy_on_kind(ScanType(UNSURE, 0.4, False, 0.0), trust)
    coronal = accuracy_on_kind(ScanType("T1C+", 0.9, False, 0.1, Plane.CORONAL, 0.8), trust)
    assert "coronal T1 with contrast" in coronal and "60%" in coronal and "95%" not in coronal
    sagittal = accuracy_on_kind(ScanType("T1C+", 0.9, False, 0.1, Plane.SAGITTAL, 0.8), trust)
    assert sagittal.startswith("Not validated on sagittal T1 with contrast scans") and "%" not in sagittal
    validated = validated_sentence(trust)
    assert "axial T2, axial T1 with contrast, coronal T1 with contrast;" in validated
    assert validated.endswith("skull-stripped scans among them.") and "%" not in validated
    *sentences, few = type_sentences(trust)
    assert few.endswith(": skull-stripped axial T1 (12).") and "99%" not in " ".join(sentences + [few])


def test_the_plane_a_file_says_replaces_the_recognised_one_in_the_app_and_the_csv(real_classifier, tmp_path):
    from model.core.batch import classify_paths
    from tests.helpers import dicom

    pixels = np.asarray(Image.open(sample_scans()[0][0]).convert("L"), np.uint16)
    for plane, cosines in [(Plane.CORONAL, [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]), (Plane.SAGITTAL, [0, 1.0, 0, 0, 0, -1.0])]:
        data = dicom(pixels, orientation=cosines)
        kind = real_classifier.classify_upload(data, "scan.dcm").prediction.scan_type
        assert kind is not None and kind.plane is plane and kind.plane_probability == 1.0
        (tmp_path / f"{plane}.dcm").write_bytes(data)
    rows = list(classify_paths(real_classifier, sorted(tmp_path.glob("*.dcm"))))
    assert [row["plane"] for row in rows] == ["coronal", "sagittal"]
    recognised = real_classifier.classify_upload(dicom(pixels), "scan.dcm").prediction.scan_type
    assert recognised is not None and recognised.plane_probability < 1.0  # no orientation: the recogniser's plane
