"""A series or volume in one line: how many slices went to each class, and how many the guard set aside."""

from __future__ import annotations

import numpy as np

from model.core.limits import MIN_SIDE
from model.i18n import N_, _, pct

LIKELY_SHOWN = 5


COUNTED = {False: N_("{n} slices: {counts}"), True: N_("{n} frames: {counts}")}  # a multi-frame file has frames


def slices_summary(class_names: list[str], predicted: list[int], flagged: list[bool], frames: bool = False) -> str:
    """One line over a series' slices (or a multi-frame file's `frames`): how many went to each class, and how
    many the guard set aside."""
    counts = np.bincount(np.asarray(predicted, dtype=int), minlength=len(class_names))
    parts = [f"{count} {class_names[i]}" for i, count in sorted(enumerate(counts), key=lambda c: -c[1]) if count]
    line = _(COUNTED[frames]).format(n=len(predicted), counts=", ".join(parts))
    return line + (_("; {n} not like a training MRI").format(n=sum(flagged)) if any(flagged) else "")


def tumour_slices(
    probabilities: list[np.ndarray], no_tumour: int, flagged: list[bool], shown: int = LIKELY_SHOWN
) -> list[tuple[int, float]]:
    """(slice number from 1, probability of some tumour) of the slices most likely to hold one, most likely first;
    slices the guard set aside and slices more likely tumour-free than not are left out."""
    chances = [(index + 1, 1.0 - float(p[no_tumour])) for index, p in enumerate(probabilities) if not flagged[index]]
    return sorted((c for c in chances if c[1] > 0.5), key=lambda c: -c[1])[:shown]


def likely_tumour_sentence(likely: list[tuple[int, float]], word: str) -> str:
    """e.g. "Most likely to hold a tumour: slice 78 (97 %), 80 (95 %)"."""
    listed = ", ".join(f"{number} ({pct(chance, 0)})" for number, chance in likely)
    return _("Most likely to hold a tumour: {word} {listed}").format(word=word, listed=listed)


def skipped_sentence(count: int) -> str:
    """A zipped series some of whose files were too small to classify (a localiser's views)."""
    return _("{count} files of this series were left out: smaller than {side} px, as a localiser's views are.").format(
        count=count, side=MIN_SIDE
    )
