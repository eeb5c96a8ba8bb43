"""Fit the scan-type recogniser (`model.core.scan_type`) on the sequences the training sources record, score it on the
held-out case groups of the run's own split, and add it to an artifact.

Known sequences: feltrin-dev's manifest (T1, T1C+, T2) and Sartaj's tumour scans, which are figshare slices
(post-contrast T1); Sartaj's no-tumour scans are a mix of unrecorded sequences and are left out. Every scan is seen
twice, as it is and skull-stripped (`training.domain.skull_stripped`), which teaches the stripped-or-not model and
keeps the sequence model from reading the skull. Planes: the images `training.data.planes` knows the plane of (as
they are and stripped), every plane weighted alike. Features come from the app's own path (`Classifier.forward`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from tqdm import tqdm

from model.core.batch import batches
from model.core.decode import decode_file
from model.core.predict import BATCH, Classifier
from model.core.preprocess import crop_head, square_to_rgb, to_model_input
from model.core.scan_type import SEQUENCES, UNSURE, ScanTypeModel
from model.core.volume import PLANES, Plane
from model.schema.card import SCAN_TYPE_FILE, sha256_file, update_card
from model.schema.records import ScanTypeEvaluation, write
from training.data.domain import skull_stripped
from training.data.listing import MIXED_SEQUENCES, SARTAJ
from training.data.planes import PLANES_FILE, known_planes
from training.data.split import TrainingSplit, split_of
from training.fitting.selection import NO_TUMOUR

SARTAJ_TUMOUR_SEQUENCE = "T1C+"  # figshare slices: post-contrast T1 (Cheng et al.)
SARTAJ_PER_SIDE = {"train": 400, "validation": 150}  # a sample: Sartaj's tumour scans would otherwise swamp the rest
STRIP_DEPTH = 0.12  # of the head's radius (training.data.domain draws 0.08-0.18)
MAX_UNSURE_SHARE = 0.1  # of known-sequence validation scans: where the "other / unsure" threshold lies
C = 0.1  # inverse L2 strength of both logistic regressions (standardised features)


def known_sequence(split: TrainingSplit, index: int) -> str | None:
    sample = split.samples[index]
    if sample.sequence != MIXED_SEQUENCES:
        return sample.sequence
    return SARTAJ_TUMOUR_SEQUENCE if sample.source == SARTAJ and sample.label != NO_TUMOUR else None


def chosen(split: TrainingSplit, side: np.ndarray, per_sartaj: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """The images of one side with a known sequence; Sartaj's sampled down to `per_sartaj`."""
    known = [i for i in side if known_sequence(split, i) is not None]
    sartaj = [i for i in known if split.samples[i].source == SARTAJ]
    kept = set(np.random.default_rng(seed).choice(sartaj, min(per_sartaj, len(sartaj)), replace=False).tolist())
    picked = np.array([i for i in known if split.samples[i].source != SARTAJ or i in kept])
    return picked, [str(known_sequence(split, i)) for i in picked]


def as_is_and_stripped(paths: list[Path], size: int) -> Iterator[np.ndarray]:
    """Each scan's model input as it is, then skull-stripped (deterministic depth)."""
    for path in paths:
        square = crop_head(decode_file(path).rgb)
        yield to_model_input(square_to_rgb(square, size))
        stripped, _ = skull_stripped(square, None, STRIP_DEPTH)
        yield to_model_input(square_to_rgb(stripped, size))


def features(classifier: Classifier, paths: list[Path], desc: str) -> np.ndarray:
    """(2 * len(paths), D): the guard's features of each scan, then of its skull-stripped view."""
    rows = []
    chunks = batches(as_is_and_stripped(paths, classifier.card.image_size), BATCH)
    for chunk in tqdm(chunks, total=-(-2 * len(paths) // BATCH), desc=desc, unit="batch"):
        rows.append(classifier.forward(np.stack(chunk))[0])
    return np.concatenate(rows)


@dataclass(frozen=True)
class Views:
    """The guard's features of one side's images, each as it is and then skull-stripped, with what is known of each
    view: its sequence (None: not recorded), whether it is stripped, its source and its plane (None: not known)."""

    x: np.ndarray
    sequences: list[str | None]
    stripped: np.ndarray
    sources: np.ndarray
    planes: list[Plane | None]

    def known(self, labels: Sequence[object]) -> np.ndarray:
        return np.array([label is not None for label in labels])


def side_views(
    classifier: Classifier, split: TrainingSplit, side: np.ndarray, planes: dict[int, Plane], seed: int, name: str
) -> Views:
    """The images of one side with a known sequence (Sartaj's sampled down) or a known plane, as `Views`."""
    picked, _ = chosen(split, side, SARTAJ_PER_SIDE[name], seed)
    images = np.union1d(picked, [i for i in side if i in planes]).astype(int)
    in_picked = set(picked.tolist())
    x = features(classifier, [split.samples[i].path for i in images], f"scan-type features ({name})")
    sequences = [known_sequence(split, i) if i in in_picked else None for i in images]
    return Views(
        x,
        [s for s in sequences for _ in range(2)],
        np.tile([0, 1], len(images)),
        np.repeat([split.samples[i].source for i in images], 2),
        [planes.get(int(i)) for i in images for _ in range(2)],
    )


def _logistic(z: np.ndarray, labels: np.ndarray, balanced: bool = True) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=2000, class_weight="balanced" if balanced else None).fit(z, labels)


def fit(train: Views) -> ScanTypeModel:
    mean, scale = train.x.mean(axis=0), train.x.std(axis=0) + 1e-6
    z = (train.x - mean) / scale
    with_sequence, with_plane = train.known(train.sequences), train.known(train.planes)
    sequence = _logistic(z[with_sequence], np.array([SEQUENCES.index(str(s)) for s in train.sequences if s]))
    strip = _logistic(z, train.stripped, balanced=False)
    planes = np.array([PLANES.index(p) for p in train.planes if p is not None])
    if len(set(planes)) < len(PLANES):
        raise ValueError("the plane labels lack a plane; every plane needs training images (training.data.planes)")
    plane = _logistic(z[with_plane], planes)
    return ScanTypeModel(
        mean,
        scale,
        sequence.coef_,
        sequence.intercept_,
        strip.coef_[0],
        float(strip.intercept_[0]),
        plane.coef_,
        plane.intercept_,
        0.0,
    )


def _per_source(right: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    return {str(s): float(right[sources == s].mean()) for s in sorted(set(sources))}


def scores(model: ScanTypeModel, views: Views) -> dict[str, Any]:
    """Confusion matrices (true x recognised: sequences with `UNSURE` last, planes), accuracies per source, and how
    often skull-stripped views are told from the rest."""
    found = model.recognise(views.x)
    with_sequence, with_plane = views.known(views.sequences), views.known(views.planes)
    recognised = [f.sequence for f, known in zip(found, with_sequence) if known]
    truth = [str(s) for s in views.sequences if s is not None]
    names = [*SEQUENCES, UNSURE]
    right = np.array([r == s for r, s in zip(recognised, truth)])
    plane_truth = [str(p) for p in views.planes if p is not None]
    plane_found = [str(f.plane) for f, known in zip(found, with_plane) if known]
    plane_right = np.array([r == t for r, t in zip(plane_found, plane_truth)])
    return {
        "n": len(truth),
        "sequence_labels": names,
        "confusion_matrix": confusion_matrix(truth, recognised, labels=names)[: len(SEQUENCES)].tolist(),
        "sequence_accuracy": float(right.mean()),
        "unsure_share": float(np.mean([r == UNSURE for r in recognised])),
        "sequence_accuracy_per_source": _per_source(right, views.sources[with_sequence]),
        "skull_stripped_accuracy": float(np.mean([f.skull_stripped == bool(t) for f, t in zip(found, views.stripped)])),
        "plane_n": len(plane_truth),
        "plane_labels": [str(p) for p in PLANES],
        "plane_confusion_matrix": confusion_matrix(plane_truth, plane_found, labels=[str(p) for p in PLANES]).tolist(),
        "plane_accuracy": float(plane_right.mean()) if len(plane_right) else None,
        "plane_accuracy_per_source": _per_source(plane_right, views.sources[with_plane]),
    }


def fit_scan_type(
    artifact_dir: Path,
    data_dir: Path,
    out: Path,
    extra_data_dirs: Sequence[Path] = (),
    planes_file: Path = PLANES_FILE,
) -> dict[str, Any]:
    """Fits on the training images of the run's split (its seed; its other sources, or `extra_data_dirs` for a run
    trained on Sartaj alone), places the unsure threshold and scores on the validation images."""
    classifier = Classifier.from_artifact(artifact_dir, with_guard=False)
    seed = classifier.card.settings().seed
    split = split_of(classifier.card, data_dir, extra_data_dirs)
    planes = known_planes(split, data_dir, planes_file)
    train = side_views(classifier, split, split.train_idx, planes, seed, "train")
    validation = side_views(classifier, split, split.val_idx, planes, seed, "validation")
    model = fit(train)
    known = validation.x[validation.known(validation.sequences)]
    model.unsure_below = float(np.quantile(model.sequence_probabilities(known).max(axis=1), MAX_UNSURE_SHARE))
    model.save(Path(artifact_dir) / SCAN_TYPE_FILE)
    report = {
        "artifact_sha256": classifier.card.weights_sha256,
        "unsure_rule": f"{MAX_UNSURE_SHARE:.0%} of known-sequence validation scans fall below it",
        "unsure_below": model.unsure_below,
        "train_scans": int(len(train.x) // 2),
        "validation": scores(model, validation),
    }
    write(ScanTypeEvaluation, out, report)
    block = {
        "file": SCAN_TYPE_FILE,
        "sha256": sha256_file(Path(artifact_dir) / SCAN_TYPE_FILE),
        "sequences": list(SEQUENCES),
        "unsure_below": model.unsure_below,
    }
    update_card(artifact_dir, scan_type=block)
    return report
