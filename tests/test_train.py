"""Smoke run of the whole training pipeline on a tiny synthetic folder with a tiny backbone."""

import json
import shutil
from dataclasses import asdict

import numpy as np
import pytest

from model.core.predict import Classifier
from model.errors import ArtifactError
from model.schema.card import CARD_FILE, load_card, sha256_file, update_card
from tests.helpers import TINY_SIZE, write_dataset, write_masks
from training.data import split as split_module
from training.evaluation.audit import audit
from training.evaluation.evaluate import evaluate, evaluate_candidates
from training.evaluation.rescore import rescore, write_rows
from training.fitting.config import TrainConfig
from training.fitting.guard import refit_guard
from training.fitting.selection import WORST_GROUP
from training.fitting.train import CachedRows, average, interpolate, train


def test_training_writes_a_loadable_artifact_whose_hash_is_in_the_card(trained):
    root, _, config, card = trained
    on_disk = json.loads((config.out_dir / CARD_FILE).read_text())
    assert on_disk["artifact"]["sha256"] == sha256_file(config.out_dir / on_disk["artifact"]["weights_file"])
    assert on_disk["dataset"]["images"] == 64 + 30  # Sartaj layout and a manifest-layout source
    assert on_disk["dataset"]["train_images"] + on_disk["dataset"]["validation_images"] == 64 + 30
    assert on_disk["dataset"]["sources"] == ["other", "sartaj"]
    assert set(on_disk["dataset"]["validation_groups"]) == {"sartaj", "other/T1", "other/T2"}
    assert on_disk["calibration"]["temperature"] > 0
    assert set(on_disk["history"]) == {"stage1_head", "stage2_finetune"}
    assert on_disk["timings"]["total_wall_s"] > 0 and on_disk["machine"]["cpu_count"] >= 1
    assert on_disk["ood"]["threshold"] > 0
    assert on_disk["onnx"]["sha256"] == sha256_file(config.out_dir / on_disk["onnx"]["file"])
    selection = on_disk["validation"]["selection"]
    assert [row["alpha"] for row in selection["interpolation"]] == [i / 10 for i in range(11)]
    assert selection["alpha"] == min(selection["interpolation"], key=lambda r: r[WORST_GROUP])["alpha"]
    ends = [row["weights"] for row in selection["averaging"]]
    assert ends == ["best checkpoint", "average of the last 2 epochs"]  # the run's two epochs
    assert selection["stage2_end"] == min(selection["averaging"], key=lambda r: r[WORST_GROUP])["weights"]
    assert set(selection["candidates_worst_group_nll"]) == set(on_disk["validation"]["candidates_accuracy"])
    for row in selection["interpolation"] + selection["averaging"]:
        assert row[WORST_GROUP] == max(group["nll_at_fitted_temperature"] for group in row["groups"].values())
    classifier = Classifier.from_artifact(config.out_dir)
    predictions = classifier.predict_inputs(np.zeros((2, TINY_SIZE, TINY_SIZE, 3), np.float32))
    assert len(predictions) == 2 and abs(predictions[0].probabilities.sum() - 1) < 1e-6
    for candidate in ("frozen_backbone_head", "finetuned_exit_flow"):
        assert load_card(config.run_dir / "candidates" / candidate).candidate == candidate


def test_the_guard_fitted_again_from_the_images_matches_the_one_training_fitted_from_its_cache(trained, tmp_path):
    """One preprocessing path: the run's cached clean views and the images give the guard the same features."""
    _, data, config, card = trained
    copy = shutil.copytree(config.out_dir, tmp_path / "artifact")
    refitted = refit_guard(copy, data)
    assert refitted["threshold"] == pytest.approx(card.ood.threshold, rel=1e-2)
    assert refitted["features"] == card.ood.features
    assert Classifier.from_artifact(copy).ood is not None


def test_an_artifact_whose_guard_predates_the_frozen_layer_guard_is_refused(trained, tmp_path):
    _, _, config, card = trained
    copy = shutil.copytree(config.out_dir, tmp_path / "artifact")
    update_card(copy, ood={key: value for key, value in asdict(card.ood).items() if key != "features"})
    with pytest.raises(ArtifactError, match="python -m training guard"):
        Classifier.from_artifact(copy)
    assert Classifier.from_artifact(copy, with_guard=False).ood is None


def test_training_never_asks_for_the_testing_split(tmp_path, monkeypatch):
    data = write_dataset(tmp_path / "data", {"Training": 8, "Testing": 2})
    requested = []
    original = split_module.list_split
    monkeypatch.setattr(
        split_module, "list_split", lambda d, split, *a: requested.append(split) or original(d, split, *a)
    )
    monkeypatch.setenv("BRAIN_MRI_CACHE", str(tmp_path / "cache"))
    shutil.rmtree(data / "Testing")  # reading it would now fail loudly
    train(
        TrainConfig(
            data_dir=data,
            out_dir=tmp_path / "a",
            run_dir=tmp_path / "r",
            backbone="tiny",
            image_size=TINY_SIZE,
            views=2,
            head_epochs=1,
            finetune_epochs=1,
            batch_size=8,
        )
    )
    assert requested == ["Training"]


def test_same_seed_same_split_and_cache_is_reused(trained, tmp_path, monkeypatch):
    root, data, config, card = trained
    monkeypatch.setenv("BRAIN_MRI_CACHE", str(root / "cache"))
    again = train(TrainConfig(**{**config.__dict__, "out_dir": tmp_path / "again", "run_dir": tmp_path / "run2"}))
    assert again.dataset == card.dataset
    assert card.timings.cache_images_computed == 64 + 30
    assert again.timings.cache_images_computed == 0


def test_evaluate_reports_full_and_leakage_clean_subsets(trained, tmp_path):
    root, data, config, _ = trained
    testing = write_dataset(tmp_path / "d", {"Testing": 3}, seed=99) / "Testing"
    shutil.copytree(testing, data / "Testing", dirs_exist_ok=True)
    copy = data / "Testing" / "glioma_tumor" / "copy.jpg"
    shutil.copy(data / "Training" / "glioma_tumor" / "0.jpg", copy)
    masks = write_masks(data, tmp_path / "masks")
    lines = (masks / "index.csv").read_text().splitlines()  # figshare calls one Testing pituitary scan meningioma
    conflict = "Testing,pituitary_tumor,0.jpg,"
    lines = [line.replace(",pituitary,", ",meningioma,") if line.startswith(conflict) else line for line in lines]
    (masks / "index.csv").write_text("\n".join(lines) + "\n")
    report = evaluate(
        data, "Testing", config.out_dir, tmp_path / "eval.json", gallery_dir=tmp_path / "gallery", masks_dir=masks
    )
    assert report.full.n == 13 and report.without_label_conflicts is not None and report.leakage_clean is not None
    assert report.label_conflicts == 1 and report.without_label_conflicts.n == 12
    assert [r.path for r in report.images if r.label_conflict] == ["Testing/pituitary_tumor/0.jpg"]
    leaked = [r for r in report.images if r.leaked]
    assert "Testing/glioma_tumor/copy.jpg" in [r.path for r in leaked]
    assert report.leakage_clean.n == 13 - len(leaked)
    assert all(len(r.probabilities) == 4 for r in report.images)
    wrong = [r for r in report.images if r.predicted != r.label]
    assert all((tmp_path / "gallery" / str(r.gallery_image)).exists() for r in wrong)
    with pytest.raises(ValueError):
        evaluate(data, "Training", config.out_dir, tmp_path / "no.json")

    scored = evaluate_candidates(data, config.run_dir, tmp_path / "candidates.json", masks_dir=masks)
    scored = scored[config.run_dir.name]
    validation = json.loads((config.out_dir / CARD_FILE).read_text())["validation"]
    assert {"frozen_backbone_head", "finetuned_exit_flow"} <= set(scored)
    assert [name for name, row in scored.items() if row.chosen_by_run] == [validation["selected"]]
    localised = {name: row.grad_cam_validation for name, row in scored.items() if row.grad_cam_validation}
    assert list(localised) == [validation["selected"]] and localised[validation["selected"]].n > 0
    for name, row in scored.items():
        assert row.validation_worst_group_nll == validation["selection"]["candidates_worst_group_nll"][name]
        assert row.full == pytest.approx(
            json.loads((config.run_dir / "candidates" / name / "evaluation.json").read_text())["full"]["accuracy"]
        )

    audited = audit(data, tmp_path / "audit.json", examples_dir=tmp_path / "examples", masks_dir=masks)
    summary = audited.summary
    assert summary.testing_exact_copies >= 1 and summary.testing_leaked >= 1
    [listed] = audited.label_conflicts
    assert listed.scan == "Testing/pituitary_tumor/0.jpg" and listed.figshare_label == "meningioma"
    assert (tmp_path / "examples" / str(listed.image)).exists()
    shutil.rmtree(data / "Testing")


def test_validation_rows_cover_every_view_and_weights_mix_and_average():
    cache = np.arange(4 * 3, dtype=np.float16).reshape(12, 1)
    rows = CachedRows(cache, np.array([0, 2]), np.array([1, 3]), 3, 4, 4, view_choices=(0, 1, 2))
    assert rows.rows.tolist() == [0, 1, 2, 6, 7, 8] and rows.row_labels.tolist() == [1, 1, 1, 3, 3, 3]
    inputs, targets = rows[0]
    assert inputs[:, 0].tolist() == [0, 1, 2, 6] and targets.argmax(1).tolist() == [1, 1, 1, 3]
    start, end = [np.zeros(2), np.ones(3)], [np.full(2, 4.0), np.full(3, 3.0)]
    assert [w.tolist() for w in interpolate(start, end, 0.25)] == [[1.0, 1.0], [1.5, 1.5, 1.5]]
    assert [w.tolist() for w in average([start, end])] == [[2.0, 2.0], [2.0, 2.0, 2.0]]


def test_mixup_blends_each_batch_with_itself_reproducibly():
    cache = np.repeat(np.arange(8, dtype=np.float16), 2)[:, None]  # two views per image
    images, labels = np.arange(8), np.array([0, 1, 2, 3] * 2)

    def first_batch():
        rows = CachedRows(cache, images, labels, 2, 8, 4, np.ones(4, np.float32), seed=3, mixup=0.4)
        return rows[0]

    (inputs, targets, weights), (again, _, _) = first_batch(), first_batch()
    assert np.array_equal(inputs, again)
    assert np.allclose(targets.sum(axis=1), 1) and (targets.max(axis=1) < 1).any()
    assert inputs.min() >= 0 and inputs.max() <= 7 and np.allclose(weights, 1)


def test_rescore_reproduces_the_worst_group_loss_the_run_chose_by(trained, tmp_path):
    root, _, config, card = trained
    candidate = config.run_dir / "candidates" / "frozen_backbone_head"
    rows = rescore(config, [config.out_dir, candidate])
    selection = card.validation.selection
    chosen = next(r for r in selection.interpolation if r.alpha == selection.alpha)
    assert rows[0]["artifact_sha256"] == card.weights_sha256 and rows[0]["trained_on"] == ["other", "sartaj"]
    assert rows[0][WORST_GROUP] == pytest.approx(chosen.worst_group_nll, rel=2e-2)  # weights stored as float16
    written = write_rows(tmp_path / "group_rescore.json", config, rows, card.weights_sha256)
    assert [row.beats_shipped for row in written.rows][0] is None
    assert set(written.validation_groups) == {"sartaj", "other/T1", "other/T2"}


def test_rescore_needs_no_cache_and_scores_the_served_model(trained, tmp_path, monkeypatch):
    root, _, config, card = trained
    monkeypatch.setenv("BRAIN_MRI_CACHE", str(tmp_path / "empty"))
    row = rescore(config, [config.out_dir])[0]
    assert row["artifact_sha256"] == card.weights_sha256
    assert row["mean_group_nll"] <= row[WORST_GROUP]


def test_a_run_started_from_an_artifact_interpolates_from_that_model(trained, tmp_path, monkeypatch):
    root, _, config, card = trained
    monkeypatch.setenv("BRAIN_MRI_CACHE", str(root / "cache"))
    warm = {"out_dir": tmp_path / "warm", "run_dir": tmp_path / "warm_run", "init_from": config.out_dir}
    again = train(TrainConfig(**{**config.__dict__, **warm}))
    assert "starting_model" in again.validation.candidates_accuracy
    assert again.history.stage1_head == {}
    start = next(r for r in again.validation.selection.interpolation if r.alpha == 0.0)
    selection = card.validation.selection
    chosen = next(r for r in selection.interpolation if r.alpha == selection.alpha)
    assert start.worst_group_nll == pytest.approx(chosen.worst_group_nll, rel=2e-2)  # the same model
