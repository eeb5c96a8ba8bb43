"""Score a model artifact on a split: the whole split and its leakage-clean subset.

Most Testing images are re-encoded copies of Training images, so the whole
split mostly measures memorisation; the leakage-clean subset (no exact or
near duplicate in Training) measures generalisation. Both are reported.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from model.core.decode import decode_file
from model.core.predict import BATCH, Classifier, Runtime
from model.core.trust import type_key
from model.report.evaluation_report import paths_digest
from model.schema.card import ModelCard, Selection, load_card
from model.schema.records import Candidates, Evaluation, SaliencyEvaluation, load, read, write
from training.data.duplicates import NEAR_DUPLICATE_DISTANCE, cross_match, duplicate_groups, hash_images
from training.data.listing import TRAIN_SPLIT, fingerprint, list_split, recorded_path
from training.data.masks import label_conflicts
from training.fitting.metrics import classification_report


def _subset(report_rows: list[dict[str, Any]], mask: np.ndarray, class_names: list[str]) -> dict[str, Any] | None:
    """The scans under `mask` scored, or None when there are none (a split without copies of Training)."""
    labels = np.array([r["label"] for r in report_rows])[mask]
    probabilities = np.array([r["probabilities"] for r in report_rows])[mask]
    if len(labels) == 0:
        return None
    groups = np.array([r["duplicate_group"] for r in report_rows])[mask]
    return classification_report(labels, probabilities, class_names, groups=groups)


def _classified_rows(
    classifier: Classifier,
    samples: list,
    training: list,
    match: Any,
    leaked: np.ndarray,
    conflicts: set[str],
    data_dir: Path,
    keep_prepared: bool,
) -> tuple[list[dict[str, Any]], list[np.ndarray | None]]:
    """One row per scan, classified through the app's path, with its leakage and label-conflict facts; the
    prepared images are kept only when asked (for the gallery), not for every scan of every run."""
    rows: list[dict[str, Any]] = []
    prepared_images: list[np.ndarray | None] = []
    for start in tqdm(range(0, len(samples), BATCH), desc="classifying", unit="batch"):
        chunk = samples[start : start + BATCH]
        results = classifier.classify_images([decode_file(s.path).rgb for s in chunk])
        for offset, (sample, (prepared, prediction)) in enumerate(zip(chunk, results)):
            i = start + offset
            prepared_images.append(prepared if keep_prepared else None)
            rows.append(
                {
                    "path": sample.relative(data_dir),
                    "label": sample.label,
                    "predicted": prediction.class_index,
                    "probabilities": [round(float(p), 6) for p in prediction.probabilities],
                    "ood_score": prediction.ood_score,
                    "out_of_distribution": prediction.out_of_distribution,
                    "leaked": bool(leaked[i]),
                    "exact_copy": bool(match.exact[i]),
                    "phash_distance": int(match.distance[i]),
                    "nearest_training_image": training[int(match.nearest[i])].relative(data_dir),
                    "label_conflict": sample.relative(data_dir) in conflicts,
                    "scan_type": None if prediction.scan_type is None else type_key(prediction.scan_type),
                }
            )
    return rows, prepared_images


def _write_gallery(rows: list[dict[str, Any]], prepared_images: list[np.ndarray | None], gallery_dir: Path) -> None:
    """Saves each misclassified scan as the model saw it, and names the file in its row."""
    gallery_dir.mkdir(parents=True, exist_ok=True)
    for row, prepared in zip(rows, prepared_images):
        if row["predicted"] != row["label"] and prepared is not None:
            name = row["path"].replace("/", "__").rsplit(".", 1)[0] + ".jpg"
            Image.fromarray(prepared).save(gallery_dir / name, quality=90)
            row["gallery_image"] = name


def _subset_scores(
    rows: list[dict[str, Any]], names: list[str], leaked: np.ndarray, conflicts: set[str] | None
) -> dict[str, Any]:
    """The whole split, its leakage-clean part and its copies of Training scored, with the leakage counts per
    class; with `conflicts` (scored with the outlines folder), also the split without its label conflicts."""
    report = {
        "full": _subset(rows, np.ones(len(rows), bool), names),
        "leakage_clean": _subset(rows, ~leaked, names),
        "leaked_copies": _subset(rows, leaked, names),
        "label_conflicts": None if conflicts is None else len(conflicts & {r["path"] for r in rows}),
        "without_label_conflicts": None
        if conflicts is None
        else _subset(rows, ~np.array([r["label_conflict"] for r in rows]), names),
    }
    report["leakage_counts"] = {
        name: {
            "images": int(sum(r["label"] == i for r in rows)),
            "leaked": int(sum(r["label"] == i and r["leaked"] for r in rows)),
            "exact": int(sum(r["label"] == i and r["exact_copy"] for r in rows)),
        }
        for i, name in enumerate(names)
    }
    return report


def evaluate(
    data_dir: Path,
    split: str,
    artifact_dir: Path,
    out: Path,
    gallery_dir: Path | None = None,
    runtime: Runtime = "auto",
    masks_dir: Path | None = None,
) -> Evaluation:
    """Scores the artifact through the runtime the app uses (`auto`), or through TensorFlow (`tensorflow`).

    With `masks_dir` (the expert outlines folder), the scans whose class figshare labels otherwise are
    marked, and the whole split is also scored without them.
    """
    if split == TRAIN_SPLIT:
        raise ValueError("evaluate scores a held-out split; Training is what the model learned from")
    started = time.time()
    classifier = Classifier.from_artifact(artifact_dir, runtime)
    card = classifier.card
    samples = list_split(data_dir, split, card.class_dirs)
    training = list_split(data_dir, TRAIN_SPLIT, card.class_dirs)
    hashes = hash_images([s.path for s in samples], f"hashing {split}")
    match = cross_match(hashes, hash_images([s.path for s in training], "hashing Training"))
    leaked = match.leaked(NEAR_DUPLICATE_DISTANCE)
    duplicates = duplicate_groups(hashes)  # inside the split: the bootstrap resamples these groups

    conflicts = {row.scan for row in label_conflicts(masks_dir)} if masks_dir is not None else set()
    rows, prepared_images = _classified_rows(
        classifier, samples, training, match, leaked, conflicts, data_dir, keep_prepared=gallery_dir is not None
    )
    for row, group in zip(rows, duplicates):
        row["duplicate_group"] = int(group)
    if gallery_dir is not None:
        _write_gallery(rows, prepared_images, gallery_dir)

    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "split": split,
        "artifact_sha256": card.weights_sha256,
        "artifact_dir": recorded_path(artifact_dir),
        "candidate": card.candidate,
        "runtime": classifier.runtime,
        "class_names": card.class_names,
        "dataset_fingerprint_sha256": fingerprint(samples, data_dir),
        "near_duplicate_rule": (
            f"byte-identical or pHash Hamming distance <= {NEAR_DUPLICATE_DISTANCE} to a Training image"
        ),
        **_subset_scores(rows, card.class_names, leaked, conflicts if masks_dir is not None else None),
        "ood_flagged_fraction": float(np.mean([r["out_of_distribution"] for r in rows])) if card.ood else None,
        "tta_flip": card.tta_flip,
        "temperature": card.temperature,
        "wall_s": time.time() - started,
        "images": rows,
    }
    return write(Evaluation, out, report, indent=1)


def _grad_cam_localisation(data_dir: Path, masks_dir: Path, candidate_dir: Path) -> dict[str, Any]:
    """Grad-CAM against the expert outlines on the validation tumour scans (`python -m training saliency`)."""
    from model.core.maps import GRAD_CAM
    from model.report.saliency_report import default_method_summary
    from training.evaluation.saliency import evaluate_saliency

    out = candidate_dir / SaliencyEvaluation.FILE
    report = load(SaliencyEvaluation, candidate_dir)
    if report is None or not load_card(candidate_dir).describes(report.artifact_sha256):
        report = evaluate_saliency(data_dir, masks_dir, candidate_dir, out, [GRAD_CAM], sanity=False)
    summary = default_method_summary(report)[1]
    return {
        "n": summary.n,
        "pointing_game": summary.pointing_game,
        "pointing_game_ci95": summary.pointing_game_ci95,
        "energy_share": summary.energy_share,
        "energy_share_ci95": summary.energy_share_ci95,
    }


def _validation_loss(selection: Selection, candidate: str) -> dict[str, float]:
    """The loss the run chose by: worst group (runs since the two-source rule) or all views (runs before it)."""
    if candidate in selection.candidates_worst_group_nll:
        return {"validation_worst_group_nll": selection.candidates_worst_group_nll[candidate]}
    if candidate in selection.candidates_nll_all_views:
        return {"validation_nll_all_views": selection.candidates_nll_all_views[candidate]}
    return {}


def _candidate_scores(card: ModelCard, report: Evaluation, name: str) -> dict[str, Any]:
    """What candidates.json records of one candidate: its Testing scores beside what its run chose by."""
    validation, history, timings = card.validation, card.history, card.timings
    if validation is None or history is None or timings is None:
        raise ValueError(f"the card of {name} lacks its training records")
    full, clean, copies = report.full, report.leakage_clean, report.leaked_copies
    scores = {
        "artifact_sha256": report.artifact_sha256,
        "split": report.split,
        "validation_accuracy": validation.candidates_accuracy[name],
        "full": full.accuracy,
        "leakage_clean": float("nan") if clean is None else clean.accuracy,
        "leaked_copies": float("nan") if copies is None else copies.accuracy,
        "finetune_epochs_run": 0
        if name in ("frozen_backbone_head", "starting_model")
        else len(history.stage2_finetune.get("loss", [])),
        "runtime": report.runtime,
        "chosen_by_run": validation.selected == name,
        "testing_recall": {class_name: values.recall for class_name, values in full.per_class.items()},
        # In the order of the evaluation's images, for paired comparisons on the same scans.
        "testing_paths_sha256": paths_digest(report.images),
        "testing_predictions": [row.predicted for row in report.images],
        "run_wall_s": timings.total_wall_s,
    }
    if validation.selection is not None:
        scores |= _validation_loss(validation.selection, name)
        if name == "weight_interpolated":
            scores["alpha"] = validation.selection.alpha
    return scores


def evaluate_candidates(
    data_dir: Path, run_dir: Path, out: Path, split: str = "Testing", masks_dir: Path | None = None
) -> dict[str, Any]:
    """Scores each candidate a training run saved, once, for the record; the choice was made on validation.

    Results of every run are kept in `out` under the run's folder name; a candidate whose evaluation
    already exists for the same weights is not scored again. With `masks_dir`, the run's own choice is also
    scored on how well its Grad-CAM points at the expert outlines of the validation tumour scans.
    """
    run_dir = Path(run_dir)
    runs: dict[str, Any] = dict(read(Candidates, out).runs) if out.exists() else {}
    scored: dict[str, dict[str, Any]] = {}
    for candidate_dir in sorted((run_dir / "candidates").iterdir()):
        card = load_card(candidate_dir)
        report = load(Evaluation, candidate_dir)
        if report is None or not card.describes(report.artifact_sha256):
            report = evaluate(data_dir, split, candidate_dir, candidate_dir / Evaluation.FILE)
        scored[candidate_dir.name] = _candidate_scores(card, report, candidate_dir.name)
        if masks_dir is not None and scored[candidate_dir.name]["chosen_by_run"]:
            scored[candidate_dir.name]["grad_cam_validation"] = _grad_cam_localisation(
                data_dir, masks_dir, candidate_dir
            )
    runs[run_dir.name] = scored
    return write(Candidates, out, {"runs": runs}).runs
