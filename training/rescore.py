"""Scores finished artifacts by the selection rule on one run's clean validation views, from the cache it left.

The shipped model and a new run's candidates are scored on the same split and the same frozen-layer cache (the
clean view of a scan does not depend on the augmentation settings), so the rule compares like with like; a model
trained on Sartaj alone is scored on the other sources' groups too, which is the leave-one-source-out ablation.
Only training folders are read, never Testing.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from model.core.architecture import load_weights_npz
from model.schema.card import ModelCard, load_card
from model.schema.records import GroupRescore, read, write
from training.artifact import machine_info
from training.config import TrainConfig
from training.data import SARTAJ
from training.selection import RULE, verdicts
from training.train import prepare


def rescore(config: TrainConfig, artifact_dirs: list[Path]) -> list[dict[str, Any]]:
    """One row of `training.selection.validation_scores` per artifact; a missing cache raises FileNotFoundError."""
    data = prepare(config, timings={}, cache_must_exist=True)
    rows = []
    for artifact_dir in artifact_dirs:
        card = load_card(artifact_dir)
        load_weights_npz(data.model, artifact_dir / card.weights_file)
        rows.append(
            {
                "artifact_dir": str(artifact_dir),
                "run": Path(_recorded_run_dir(card) or artifact_dir).name,
                "candidate": card.candidate,
                # cards before the second source: Sartaj alone
                "trained_on": (card.dataset.sources if card.dataset else []) or [SARTAJ],
                "artifact_sha256": card.weights_sha256,
                **data.validation_scores(data.top.get_weights()),
                "cpu": machine_info()["cpu"],  # the cache is rebuilt per machine; its float rounding differs
            }
        )
    return rows


def _recorded_run_dir(card: ModelCard) -> str | None:
    run_dir = None if card.training_config is None else card.training_config.run_dir
    return None if run_dir == "None" else run_dir  # older cards wrote an unset folder as "None"


def write_rows(out: Path, config: TrainConfig, rows: list[dict[str, Any]], shipped_sha256: str) -> GroupRescore:
    """Adds `rows` to the file (replacing earlier rows of the same artifacts) with each row's verdict."""
    kept = [asdict(row) for row in read(GroupRescore, out).rows] if out.exists() else []
    fresh = {row["artifact_sha256"] for row in rows}
    merged = [r for r in kept if r["artifact_sha256"] not in fresh] + rows
    groups = merged[-1]["groups"]
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
