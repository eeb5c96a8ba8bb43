"""Scores finished artifacts on their run's validation views again, from the frozen-layer cache the run left.

Runs trained before a validation figure was added to the model card can be compared on it afterwards,
e.g. the all-view loss after a fitted temperature. Only Training is read, never Testing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.architecture import load_weights_npz
from model.card import load_card
from model.records import Rescore, read, write
from training.artifact import machine_info
from training.config import TrainConfig
from training.train import prepare


def rescore(data_dir: Path, artifact_dirs: list[Path]) -> list[dict[str, Any]]:
    """One row of `validation_scores` per artifact; a missing cache raises FileNotFoundError (train once first)."""
    rows = []
    for artifact_dir in artifact_dirs:
        card = load_card(artifact_dir)
        data = prepare(TrainConfig.of_card(card, data_dir), timings={}, cache_must_exist=True)
        load_weights_npz(data.model, artifact_dir / card.weights_file)
        rows.append(
            {
                "artifact_dir": str(artifact_dir),
                "candidate": card.candidate,
                "artifact_sha256": card.weights_sha256,
                **data.validation_scores(data.top.get_weights()),
                "cpu": machine_info()["cpu"],  # the cache is rebuilt per machine; its float rounding differs
            }
        )
    return rows


def write_rows(out: Path, rows: list[dict[str, Any]]) -> None:
    """Adds `rows` to the file, replacing earlier rows of the same artifacts and keeping the others."""
    kept = read(Rescore, out).rows if out.exists() else []
    fresh = {row["artifact_sha256"] for row in rows}
    write(Rescore, out, {"rows": [r for r in kept if r["artifact_sha256"] not in fresh] + rows})
