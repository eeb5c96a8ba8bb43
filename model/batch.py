"""Classify a folder (or a list) of scans to CSV without the app, streaming with tf.data.

Decoding and preprocessing run in parallel `tf.data` map calls while the model
works on the previous batch; rows are written as they come, so a folder of any
size needs constant memory. Files that cannot be read get a row with the error.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from model.decode import IMAGE_SUFFIXES, decode_file
from model.errors import InputError
from model.predict import Classifier
from model.preprocess import preprocess

BATCH = 16  # images per classification call, here and in the evaluations


def find_scans(inputs: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found += sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(item)
    return found


def _dataset(paths: list[Path], size: int) -> tf.data.Dataset:
    def load(path: tf.Tensor) -> tuple[np.ndarray, bytes]:
        try:
            return preprocess(decode_file(path.numpy().decode()).rgb, size), b""
        except (InputError, OSError) as error:
            return np.zeros((size, size, 3), np.float32), str(error).encode()

    def mapped(path: tf.Tensor):
        image, error = tf.py_function(load, [path], [tf.float32, tf.string])
        image.set_shape((size, size, 3))
        return path, image, error

    return (
        tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
        .map(mapped, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(BATCH)
        .prefetch(2)
    )


class Scored(Protocol):
    """What a CSV row needs of a prediction (`model.predict.Prediction`, or the app's cached copy of one)."""

    class_name: str
    probabilities: np.ndarray
    out_of_distribution: bool

    @property
    def confidence(self) -> float: ...

    @property
    def margin(self) -> float: ...


def csv_fields(class_names: list[str]) -> list[str]:
    """Stable English column names, in the CLI's CSV and the app's download alike."""
    return ["file", "prediction", "confidence", "margin", "looks_like_training_mri", "error"] + [
        f"p({n})" for n in class_names
    ]


def result_row(file: str, class_names: list[str], scored: Scored | None = None, error: str = "") -> dict[str, object]:
    """One CSV row: the prediction and its calibrated probabilities, or the reason the file could not be read."""
    row: dict[str, object] = dict.fromkeys(csv_fields(class_names))
    row.update(file=file, error=error)
    if scored is not None:
        row.update(
            prediction=scored.class_name,
            confidence=round(scored.confidence, 4),
            margin=round(scored.margin, 4),
            looks_like_training_mri=not scored.out_of_distribution,
        )
        row.update({f"p({n})": round(float(v), 4) for n, v in zip(class_names, scored.probabilities)})
    return row


def classify_paths(classifier: Classifier, paths: list[Path]) -> Iterator[dict[str, object]]:
    names = classifier.card.class_names
    for batch_paths, images, errors in _dataset(paths, classifier.card.image_size):
        errors = [e.decode() for e in errors.numpy()]
        good = [i for i, e in enumerate(errors) if not e]
        predictions = dict(zip(good, classifier.predict_inputs(images.numpy()[good]))) if good else {}
        for i, path in enumerate(batch_paths.numpy()):
            yield result_row(path.decode(), names, predictions.get(i), errors[i])


def classify_to_csv(classifier: Classifier, inputs: Iterable[Path], out: Path) -> int:
    paths = find_scans(inputs)
    fields = csv_fields(classifier.card.class_names)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in tqdm(classify_paths(classifier, paths), total=len(paths), desc="classifying", unit="scan"):
            writer.writerow(row)
    return len(paths)
