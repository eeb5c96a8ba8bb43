"""The selection rule: validation loss after a fitted temperature, per group (source x sequence), worst group.

A model that recognises one source's sequence instead of the tumour can have a low loss on validation drawn from
that source and a high one elsewhere; pooling the groups hides that, the worst group shows it (the lesson of
DomainBed, Gulrajani & Lopez-Paz, ICLR 2021: selection decides domain-generalisation results). Each group's
temperature is fitted on that group's own logits, so a candidate is not charged for a miscalibration that a
temperature removes, and the comparison is about how well it separates the classes in every group.
See training/PREREGISTRATION.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.schema.card import CLASS_DIRS
from training.fitting.calibrate import fit_temperature, nll

NO_TUMOUR = CLASS_DIRS.index("no_tumor")
WORST_GROUP = "worst_group_nll"  # the criterion every choice of a run and between runs minimises
MEAN_GROUP = "mean_group_nll"  # reported beside it, never chosen by


def group_row(logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Loss at a fitted temperature, accuracy and tumour-vs-no-tumour sensitivity of one group's logits."""
    temperature = fit_temperature(logits, labels)
    predictions = logits.argmax(axis=1)
    tumours = labels != NO_TUMOUR
    return {
        "n": int(len(labels)),
        "nll_at_fitted_temperature": nll(logits, labels, temperature),
        "temperature": temperature,
        "accuracy": float((predictions == labels).mean()),
        "tumour_sensitivity": float((predictions[tumours] != NO_TUMOUR).mean()) if tumours.any() else None,
    }


def validation_scores(logits: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """The criterion (`WORST_GROUP`) with each group's row and the pooled figures, of clean-view logits."""
    logits64 = np.asarray(logits, dtype=np.float64)
    rows = {str(g): group_row(logits64[groups == g], labels[groups == g]) for g in sorted(set(groups))}
    return {
        WORST_GROUP: max(row["nll_at_fitted_temperature"] for row in rows.values()),
        "worst_group": max(rows, key=lambda g: rows[g]["nll_at_fitted_temperature"]),
        "nll_at_fitted_temperature": nll(logits64, labels, fit_temperature(logits64, labels)),
        MEAN_GROUP: float(np.mean([row["nll_at_fitted_temperature"] for row in rows.values()])),
        "accuracy_clean": float((logits64.argmax(1) == labels).mean()),
        "groups": rows,
    }


RULE = (
    "a run replaces the shipped model when its worst-group validation loss at fitted temperatures (over every "
    "validation group: Sartaj, and each other source x sequence) is lower; no other condition"
)


def verdicts(rows: list[dict[str, Any]], shipped_sha256: str) -> list[dict[str, Any]]:
    """Each row with `beats_shipped` by `RULE` (None for the shipped model's own row)."""
    shipped = next(row for row in rows if row["artifact_sha256"] == shipped_sha256)

    def beats(row: dict[str, Any]) -> bool | None:
        return None if row is shipped else bool(row[WORST_GROUP] < shipped[WORST_GROUP])

    return [row | {"beats_shipped": beats(row)} for row in rows]
