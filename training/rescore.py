"""Scores finished artifacts on their run's validation views again, from the frozen-layer cache the run left.

Runs trained before a validation figure was added to the model card can be compared on it afterwards,
e.g. the all-view loss after a fitted temperature. Only Training is read, never Testing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from model.architecture import BACKBONES, load_weights_npz, split_model
from model.card import load_card
from training.artifact import machine_info
from training.augment import AugmentConfig
from training.data import fingerprint
from training.split import split_training
from training.train import TrainConfig, all_view_rows, frozen_cache_path, initial_model, predict_rows, validation_scores


def _config(data_dir: Path, card: dict[str, Any]) -> TrainConfig:
    saved = card["training_config"]
    return TrainConfig(
        data_dir=data_dir,
        backbone=saved["backbone"],
        image_size=saved["image_size"],
        views=saved["views"],
        seed=saved["seed"],
        dropout=saved["dropout"],
        augment=AugmentConfig(**saved["augment"]),
    )


def rescore(data_dir: Path, artifact_dirs: list[Path]) -> list[dict[str, Any]]:
    """One row of `validation_scores` per artifact; a missing cache raises FileNotFoundError (train once first)."""
    rows, splits = [], {}
    for artifact_dir in artifact_dirs:
        card = load_card(artifact_dir).raw
        config = _config(data_dir, card)
        if config.seed not in splits:  # hashing the images is the slow part; runs share seeds
            split = split_training(data_dir, config.seed)
            splits[config.seed] = split, fingerprint(split.samples, data_dir)
        split, dataset_fingerprint = splits[config.seed]
        cache_path = frozen_cache_path(config, dataset_fingerprint)
        if not cache_path.exists():
            raise FileNotFoundError(f"no frozen-layer cache for {artifact_dir} at {cache_path}: run training once")
        cache = np.load(cache_path, mmap_mode="r")
        model = initial_model(config)
        load_weights_npz(model, artifact_dir / card["artifact"]["weights_file"])
        _, top, _ = split_model(model, BACKBONES[config.backbone])
        logits = predict_rows(top, cache, all_view_rows(split.val_idx, config.views), config.batch_size)
        rows.append(
            {
                "artifact_dir": str(artifact_dir),
                "candidate": card["candidate"],
                "artifact_sha256": card["artifact"]["sha256"],
                **validation_scores(logits, split.labels[split.val_idx], config.views),
                "cpu": machine_info()["cpu"],  # the cache is rebuilt per machine; its float rounding differs
            }
        )
    return rows


def write_rows(out: Path, rows: list[dict[str, Any]]) -> None:
    """Adds `rows` to the file, replacing earlier rows of the same artifacts and keeping the others."""
    kept = json.loads(out.read_text())["rows"] if out.exists() else []
    fresh = {row["artifact_sha256"] for row in rows}
    out.write_text(json.dumps({"rows": [r for r in kept if r["artifact_sha256"] not in fresh] + rows}, indent=2))
