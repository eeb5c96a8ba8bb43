"""Robustness to acquisition changes: accuracy against severity for each corruption (`python -m training robustness`).

Scored on a seeded sample of validation scans and on every leakage-clean
Testing scan (the whole split is mostly copies of Training and would measure
memory). Each scan is corrupted as decoded, before the app's one preprocessing
path, as a scan from another scanner would arrive; the corruption's randomness
is seeded per (corruption, severity, scan). Nothing here is fitted or chosen.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from model.core.decode import decode_file
from model.core.predict import Classifier, Prediction
from model.schema.card import load_card
from model.schema.records import Evaluation, RobustnessEvaluation, load, write
from training.data.split import split_of
from training.evaluation.corruptions import CORRUPTIONS, SEVERITIES, Corruption
from training.fitting.metrics import proportion

VALIDATION_SAMPLE = 100  # with the 132 leakage-clean Testing scans: about 20 minutes on 2 cores


def robustness_sets(data_dir: Path, artifact_dir: Path, sample: int, seed: int) -> dict[str, tuple[list, np.ndarray]]:
    """{subset: (decoded RGB images, labels)}: a seeded validation sample and Testing's leakage-clean scans."""
    card = load_card(artifact_dir)
    split = split_of(card, data_dir)
    picked = np.sort(np.random.default_rng(seed).choice(split.val_idx, min(sample, len(split.val_idx)), replace=False))
    testing = load(Evaluation, artifact_dir)
    if testing is None or not card.describes(testing.artifact_sha256):
        raise ValueError("no evaluation of these weights is committed; run `python -m training evaluate`")
    clean_rows = [r for r in testing.images if not r.leaked]
    return {
        "validation": ([decode_file(split.samples[i].path).rgb for i in picked], split.labels[picked]),
        "testing_leakage_clean": (
            [decode_file(Path(data_dir) / r.path).rgb for r in clean_rows],
            np.array([r.label for r in clean_rows]),
        ),
    }


def _scored(predictions: list[Prediction], labels: np.ndarray) -> dict[str, Any]:
    correct = int(sum(p.class_index == y for p, y in zip(predictions, labels)))
    return {
        "accuracy": proportion(correct, len(labels)),
        "mean_confidence": float(np.mean([p.confidence for p in predictions])),
        "flagged_by_guard": float(np.mean([p.out_of_distribution for p in predictions])),
    }


def _corrupted(images: list[np.ndarray], corruption: Corruption, key: tuple[int, ...]) -> list[np.ndarray]:
    return [corruption(image, key[-1], np.random.default_rng([*key, i])) for i, image in enumerate(images)]


def evaluate_robustness(
    data_dir: Path, artifact_dir: Path, out: Path, sample: int = VALIDATION_SAMPLE, seed: int = 0
) -> RobustnessEvaluation:
    started = time.time()
    classifier = Classifier.from_artifact(artifact_dir)
    subsets = robustness_sets(data_dir, artifact_dir, sample, seed)
    table: dict[str, dict[str, Any]] = {}
    steps = tqdm(total=len(subsets) * (1 + len(CORRUPTIONS) * len(SEVERITIES)), desc="robustness", unit="setting")
    for subset, (images, labels) in subsets.items():
        corrupted: dict[str, dict[str, Any]] = {}
        table[subset] = {"clean": _scored(classifier.predict_images(images), labels), "corrupted": corrupted}
        steps.update()
        for index, (name, corruption) in enumerate(CORRUPTIONS.items()):
            corrupted[name] = {}
            for severity in SEVERITIES:
                predictions = classifier.predict_images(_corrupted(images, corruption, (seed, index, severity)))
                corrupted[name][str(severity)] = _scored(predictions, labels)
                steps.update()
    steps.close()
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "artifact_sha256": classifier.card.weights_sha256,
        "seed": seed,
        "validation_sample": sample,
        "scans": {subset: len(labels) for subset, (_, labels) in subsets.items()},
        "corruptions": list(CORRUPTIONS),
        "severities": list(SEVERITIES),
        "results": table,
        "wall_s": time.time() - started,
    }
    return write(RobustnessEvaluation, out, report)
