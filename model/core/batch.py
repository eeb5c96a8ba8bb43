"""Classify a folder (or a list) of scans to CSV without the app, streaming, without TensorFlow.

Decoding and preprocessing run in a thread pool, a bounded number of files ahead, while ONNX Runtime
works on the current batch (both release the GIL); rows are written as they come, so a folder of any
size needs constant memory. Files that cannot be read get a row with the error.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import numpy as np

from model.core.decode import IMAGE_SUFFIXES, decode_frames
from model.core.onnx_forward import available_cores
from model.core.predict import BATCH, Classifier, Prediction
from model.core.preprocess import preprocess
from model.core.trust import Reason, Trust
from model.core.volume import VOLUME_SUFFIXES, Plane
from model.errors import InputError


def is_scan_name(path: Path) -> bool:
    """What a folder search picks up (the content is still checked): image and DICOM endings, .nii and .nii.gz."""
    return path.suffix.lower() in IMAGE_SUFFIXES or path.name.lower().endswith(VOLUME_SUFFIXES)


def find_scans(inputs: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found += sorted(p for p in item.rglob("*") if p.is_file() and is_scan_name(p))
        else:
            found.append(item)
    return found


@dataclass(frozen=True)
class Loaded:
    """One image of a file, ready for the model, or why the file could not be read."""

    file: Path
    frame: int | None  # from 1, for a frame or slice of a multi-frame file, series or volume
    model_input: np.ndarray | None
    error: str = ""
    plane: Plane | None = None  # the plane the file says (a volume's cut, a DICOM's orientation)


def _load(path: Path, size: int) -> list[Loaded]:
    """Every image of one file: one, or one per frame or slice (a volume's axial slices)."""
    try:
        frames = decode_frames(path.read_bytes(), str(path))
    except (InputError, OSError) as error:
        return [Loaded(path, None, None, str(error))]
    several = len(frames) > 1
    return [Loaded(path, d.frame + 1 if several else None, preprocess(d.rgb, size), plane=d.info.plane) for d in frames]


def loaded_scans(paths: Iterable[Path], size: int, ahead: int = 4 * BATCH) -> Iterator[Loaded]:
    """Decoded and preprocessed scans in input order, at most `ahead` files decoded ahead of the consumer."""
    with ThreadPoolExecutor(max_workers=available_cores(), thread_name_prefix="decode") as pool:
        pending: deque[Future[list[Loaded]]] = deque()
        for path in paths:
            pending.append(pool.submit(_load, Path(path), size))
            if len(pending) >= ahead:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


Item = TypeVar("Item")


def batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def csv_fields(class_names: list[str]) -> list[str]:
    """Stable English column names, in the CLI's CSV and the app's download alike."""
    return [
        "file",
        "frame",
        "prediction",
        "confidence",
        "margin",
        "looks_like_training_mri",
        "sequence",
        "skull_stripped",
        "plane",
        "prediction_set",
        "referred",
        "referral_reason",
        "error",
    ] + [f"p({n})" for n in class_names]


def result_row(
    file: str,
    class_names: list[str],
    scored: Prediction | None = None,
    error: str = "",
    frame: int | None = None,
    trust: Trust | None = None,
) -> dict[str, object]:
    """One CSV row: the prediction and its calibrated probabilities, or the reason the file could not be read.

    `frame` counts from 1 (the frame or slice of a multi-frame file, series or volume); empty for a single image.
    An input the guard flags (not like a training MRI) keeps its class for the record, but no confidence, margin
    or probabilities, scan type or prediction set: they would mean nothing there.
    """
    row: dict[str, object] = dict.fromkeys(csv_fields(class_names))
    row.update(file=file, error=error, frame=frame)
    if scored is None:
        return row
    row.update(prediction=scored.class_name, looks_like_training_mri=not scored.out_of_distribution)
    if scored.out_of_distribution:
        return row if trust is None else row | {"referred": True, "referral_reason": Reason.NOT_MRI.value}
    if scored.scan_type is not None:
        kind = scored.scan_type
        row.update(sequence=kind.sequence, skull_stripped=kind.skull_stripped, plane=kind.plane.value)
    row.update(confidence=round(scored.confidence, 4), margin=round(scored.margin, 4))
    if trust is not None:
        decision = trust.decide(scored.probabilities, scored.scan_type)
        row.update(
            prediction_set="; ".join(class_names[i] for i in decision.members),
            referred=decision.referred,
            referral_reason="" if decision.reason is None else decision.reason.value,
        )
    row.update({f"p({n})": round(float(v), 4) for n, v in zip(class_names, scored.probabilities)})
    return row


def file_rows(
    file: str, class_names: list[str], frames: list[Prediction], trust: Trust | None = None
) -> list[dict[str, object]]:
    """The rows of one file: one per frame or slice of a multi-frame file, series or volume (numbered from 1), or
    one row without a frame number for a single image."""
    several = len(frames) > 1
    return [
        result_row(file, class_names, scored, frame=index + 1 if several else None, trust=trust)
        for index, scored in enumerate(frames)
    ]


def classify_paths(
    classifier: Classifier, paths: list[Path], trust: Trust | None = None, batch_size: int = BATCH
) -> Iterator[dict[str, object]]:
    names = classifier.card.class_names
    for chunk in batches(loaded_scans(paths, classifier.card.image_size), batch_size):
        good = [(item, item.model_input) for item in chunk if item.model_input is not None]
        predictions = classifier.predict_inputs(np.stack([image for _, image in good])) if good else []
        by_item = {id(item): prediction.in_plane(item.plane) for (item, _), prediction in zip(good, predictions)}
        for item in chunk:
            yield result_row(str(item.file), names, by_item.get(id(item)), item.error, item.frame, trust)
