"""Scores finished artifacts by the selection rule on the clean validation scans of one split.

Each artifact classifies the scans as the app does (its own ONNX export, image size and test-time flip, the one
preprocessing path), so models trained at different sizes, on different caches, are compared like with like; a
model trained on fewer sources is scored on the others' groups too, which is the leave-one-source-out ablation.
Only training folders are read, never Testing.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from model.core.decode import decode_file
from model.core.predict import BATCH, Classifier
from model.core.preprocess import to_model_input
from model.schema.card import ModelCard
from model.schema.records import GroupRescore, read, write
from training.data.listing import SARTAJ, recorded_path
from training.data.split import TrainingSplit, split_training
from training.fitting.artifact import machine_info
from training.fitting.config import TrainConfig
from training.fitting.selection import RULE, validation_scores, verdicts


def validation_logits(classifier: Classifier, paths: list[Path]) -> np.ndarray:
    """The logits the artifact serves for each scan (test-time flip included when its card asks for it)."""
    logits = []
    for start in range(0, len(paths), BATCH):
        images = [decode_file(path).rgb for path in paths[start : start + BATCH]]
        inputs = np.stack([to_model_input(classifier.prepare(rgb)) for rgb in images])
        logits.append(classifier.forward(inputs)[1])
    return np.concatenate(logits)


def rescore(config: TrainConfig, artifact_dirs: list[Path]) -> list[dict[str, Any]]:
    """One row of `training.selection.validation_scores` per artifact, on the validation part of `config`'s split."""
    split = split_training(config.data_dir, config.seed, config.extra_data_dirs)
    return [score_artifact(split, artifact_dir) for artifact_dir in artifact_dirs]


def score_artifact(split: TrainingSplit, artifact_dir: Path) -> dict[str, Any]:
    classifier = Classifier.from_artifact(artifact_dir, with_guard=False)
    card = classifier.card
    paths = [split.samples[i].path for i in split.val_idx]
    scores = validation_scores(
        validation_logits(classifier, paths), split.labels[split.val_idx], split.validation_groups
    )
    return {
        "artifact_dir": recorded_path(artifact_dir),
        "run": Path(_recorded_run_dir(card) or artifact_dir).name,
        "candidate": card.candidate,
        # cards before the second source: Sartaj alone
        "trained_on": (card.dataset.sources if card.dataset else []) or [SARTAJ],
        "artifact_sha256": card.weights_sha256,
        **scores,
        "cpu": machine_info()["cpu"],
    }


def _recorded_run_dir(card: ModelCard) -> str | None:
    run_dir = None if card.training_config is None else card.training_config.run_dir
    return None if run_dir == "None" else run_dir  # older cards wrote an unset folder as "None"


def write_rows(out: Path, config: TrainConfig, rows: list[dict[str, Any]], shipped_sha256: str) -> GroupRescore:
    """Adds `rows` to the file (replacing earlier rows of the same artifacts) with each row's verdict; rows scored
    on another set of validation groups are dropped, since the rule compares rows on one set."""
    groups = rows[-1]["groups"]
    kept = [asdict(row) for row in read(GroupRescore, out).rows] if out.exists() else []
    fresh = {row["artifact_sha256"] for row in rows}
    merged = [r for r in kept if r["artifact_sha256"] not in fresh and set(r["groups"]) == set(groups)] + rows
    return write(
        GroupRescore,
        out,
        {
            "rule": RULE,
            "cache_of": " ".join([str(config.data_dir), *map(str, config.extra_data_dirs)]),
            "validation_groups": {name: row["n"] for name, row in groups.items()},
            "rows": verdicts(merged, shipped_sha256),
        },
    )
