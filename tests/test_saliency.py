import json

import numpy as np
from PIL import Image

from model.core.explain import Explainer
from model.core.maps import GRAD_CAM, METHODS
from tests.helpers import synthetic_scan
from training.evaluation.saliency import (
    BASELINES,
    VALIDATION,
    HeldOutScan,
    evaluate_saliency,
    randomised_model,
    redraw_gallery,
    score_scan,
    summarise,
)


def test_randomisation_changes_the_exit_flow_and_head_and_nothing_else(tiny_classifier):
    model = tiny_classifier.model
    fresh = randomised_model(model, "tiny", seed=3)
    changed = {
        layer.name
        for layer in model.layers
        if any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), fresh.get_layer(layer.name).get_weights()))
    }
    assert {"block14_sepconv2", "logits"} <= changed
    assert "tiny_conv1" not in changed and "tiny_conv2" not in changed


def test_summary_gives_means_with_confidence_intervals():
    rows = [
        {"area_share": 0.1, "methods": {GRAD_CAM: {"pointing_game": p, "energy_share": 0.5, "auprc": 0.3}}}
        for p in (0, 1, 1, 1)
    ]
    summary = summarise(rows, GRAD_CAM)
    assert summary["n"] == 4 and summary["pointing_game"] == 0.75
    low, high = summary["pointing_game_ci95"]
    assert 0 <= low <= 0.75 <= high <= 1
    assert summarise(rows, "Score-CAM") == {"n": 0}


def test_evaluation_scores_every_method_and_baseline_on_held_out_outlined_scans(trained, tmp_path):
    root, data, config, _ = trained
    out = tmp_path / "saliency.json"
    report = evaluate_saliency(data, root / "masks", config.out_dir, out, METHODS, max_slow_scans=2)
    assert json.loads(out.read_text())["artifact_sha256"] == report.artifact_sha256
    table = report.tables[VALIDATION].groups["all"]
    assert table[GRAD_CAM].n == report.tables[VALIDATION].scans > 0
    assert table["Score-CAM"].n == min(2, table[GRAD_CAM].n)
    for method in (*METHODS, *BASELINES):
        assert 0 <= (table[method].energy_share or -1) <= 1
    assert -1 <= (table[GRAD_CAM].spearman_vs_randomised or -2) <= 1
    assert all(row.subset == VALIDATION and row.label != 2 for row in report.scans)  # no no_tumor outline
    assert (tmp_path / report.gallery[0].file).exists()
    assert set(report.gallery[0].shares) == set(METHODS)


def test_the_gallery_is_drawn_again_without_touching_the_scores(trained, tmp_path):
    """`saliency --gallery-only`: the same scans, the images again (no words in them), every score as it was."""
    root, data, config, _ = trained
    out = tmp_path / "saliency.json"
    first = evaluate_saliency(data, root / "masks", config.out_dir, out, METHODS, max_slow_scans=2)
    (tmp_path / first.gallery[0].file).unlink()
    again = redraw_gallery(data, root / "masks", config.out_dir, out)
    assert again.tables == first.tables and again.scans == first.scans and again.gallery == first.gallery
    assert (tmp_path / again.gallery[0].file).exists()


def test_a_scan_whose_outline_vanishes_at_the_models_size_is_skipped(tiny_classifier, tmp_path):
    scan = tmp_path / "data" / "Training" / "glioma_tumor" / "0.jpg"
    scan.parent.mkdir(parents=True)
    Image.fromarray(synthetic_scan(0, np.random.default_rng(0))).convert("RGB").save(scan)
    speck = np.zeros((96, 96), np.uint8)
    speck[30, 30] = 255  # one pixel: less than half a pixel at 64 px
    mask = tmp_path / "masks" / "Training" / "glioma_tumor" / "0.png"
    mask.parent.mkdir(parents=True)
    Image.fromarray(speck).save(mask)
    held_out = HeldOutScan(VALIDATION, "Training/glioma_tumor/0.jpg", 0, scan)
    assert (
        score_scan(held_out, tiny_classifier, (Explainer(tiny_classifier), None), tmp_path / "masks", [GRAD_CAM])
        is None
    )
