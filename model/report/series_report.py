"""A series or volume in one line: how many slices went to each class, and how many the guard set aside."""

from __future__ import annotations

import numpy as np

from model.i18n import _


def slices_summary(class_names: list[str], predicted: list[int], flagged: list[bool]) -> str:
    """One line over a series' slices: how many went to each class, and how many the guard set aside."""
    counts = np.bincount(np.asarray(predicted, dtype=int), minlength=len(class_names))
    parts = [f"{count} {class_names[i]}" for i, count in sorted(enumerate(counts), key=lambda c: -c[1]) if count]
    line = _("{n} slices: {counts}").format(n=len(predicted), counts=", ".join(parts))
    return line + (_("; {n} not like a training MRI").format(n=sum(flagged)) if any(flagged) else "")
