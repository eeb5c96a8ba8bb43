"""A file of several images in words: its kind and where the shown image sits, one line over its slices (how many
went to each class, how many the guard set aside), the slices likeliest to hold a tumour."""

from __future__ import annotations

import numpy as np

from model.core.decode import Container, ScanInfo
from model.core.limits import MIN_SIDE
from model.core.volume import Plane
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


PLANE_WORDS = {Plane.AXIAL: N_("axial"), Plane.CORONAL: N_("coronal"), Plane.SAGITTAL: N_("sagittal")}
CONTAINER_WORDS = {Container.DICOM: "DICOM", Container.SERIES: N_("DICOM series"), Container.VOLUME: N_("NIfTI volume")}
WHOLE = {Container.SERIES: N_("**Whole series**"), Container.VOLUME: N_("**Whole volume**")}
NOT_MR_FLAG = N_("DICOM header says not MR")  # the check column
NOT_MR = N_("This DICOM file says it is not an MR image: the model only knows brain MRI, so its class means nothing.")


def plane_word(plane: Plane) -> str:
    return _(PLANE_WORDS[plane])


def format_word(info: ScanInfo) -> str:
    """ "PNG", "DICOM series", "NIfTI volume"...: a raster file by Pillow's name for its format."""
    return info.image_format if info.container is Container.IMAGE else _(CONTAINER_WORDS[info.container])


def frame_word(info: ScanInfo) -> str:
    """What one frame is called: a slice of a series or a volume, a frame of a multi-frame file."""
    return _("slice") if info.sliced else _("frame")


def whole_label(info: ScanInfo) -> str:
    """The bold label of a whole series, volume or multi-frame file's summary line."""
    return _(WHOLE.get(info.container, N_("**Whole file**")))


def position_caption(info: ScanInfo, frame: int) -> str | None:
    """Where the shown image sits in its file ("NIfTI volume · axial · slice 7 of 40"); None for a plain image."""
    if info.container is Container.IMAGE:
        return None
    where = {"word": frame_word(info), "number": frame + 1, "total": info.frames}
    if info.container is Container.VOLUME:
        cut = plane_word(info.plane or Plane.AXIAL)
        return _("{format} · {plane} · {word} {number} of {total}").format(format=format_word(info), plane=cut, **where)
    return _("{format} · {word} {number} of {total}").format(format=format_word(info), **where)
