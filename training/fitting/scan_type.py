"""Fit the scan-type recogniser (`model.core.scan_type`) on the sequences the training sources record, score it on the
held-out case groups of the run's own split, and add it to an artifact.

Known sequences: feltrin-dev's manifest (T1, T1C+, T2) and Sartaj's tumour scans, which are figshare slices
(post-contrast T1); Sartaj's no-tumour scans are a mix of unrecorded sequences and are left out. Every scan is seen
twice, as it is and skull-stripped (`training.domain.skull_stripped`), which teaches the stripped-or-not model and
keeps the sequence model from reading the skull. Features come from the app's own path (`Classifier.forward`).
"""

from __future__ import annotations

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
from model.schema.card import SCAN_TYPE_FILE, sha256_file, update_card
from model.schema.records import ScanTypeEvaluation, write
from training.data.domain import skull_stripped
from training.data.listing import MIXED_SEQUENCES, SARTAJ
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


def fit(train_x: np.ndarray, sequences: list[str], stripped: np.ndarray) -> ScanTypeModel:
    mean, scale = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    z = (train_x - mean) / scale
    labels = np.array([SEQUENCES.index(s) for s in sequences])
    sequence = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(z, labels)
    strip = LogisticRegression(C=C, max_iter=2000).fit(z, stripped)
    return ScanTypeModel(
        mean, scale, sequence.coef_, sequence.intercept_, strip.coef_[0], float(strip.intercept_[0]), 0.0
    )


def scores(
    model: ScanTypeModel, x: np.ndarray, sequences: list[str], stripped: np.ndarray, sources: list[str]
) -> dict[str, Any]:
    """Confusion matrix (true known sequence x recognised, `UNSURE` last), accuracies per source, stripped."""
    found = model.recognise(x)
    recognised = [f.sequence for f in found]
    names = [*SEQUENCES, UNSURE]
    matrix = confusion_matrix(sequences, recognised, labels=names)[: len(SEQUENCES)]
    right = np.array([r == s for r, s in zip(recognised, sequences)])
    return {
        "n": len(found),
        "sequence_labels": names,
        "confusion_matrix": matrix.tolist(),
        "sequence_accuracy": float(right.mean()),
        "unsure_share": float(np.mean([r == UNSURE for r in recognised])),
        "sequence_accuracy_per_source": {s: float(right[np.array(sources) == s].mean()) for s in sorted(set(sources))},
        "skull_stripped_accuracy": float(np.mean([f.skull_stripped == bool(t) for f, t in zip(found, stripped)])),
    }


def fit_scan_type(
    artifact_dir: Path, data_dir: Path, out: Path, extra_data_dirs: Sequence[Path] = ()
) -> dict[str, Any]:
    """Fits on the training images of the run's split (its seed; its other sources, or `extra_data_dirs` for a run
    trained on Sartaj alone), places the unsure threshold and scores on the validation images."""
    classifier = Classifier.from_artifact(artifact_dir, with_guard=False)
    seed = classifier.card.settings().seed
    split = split_of(classifier.card, data_dir, extra_data_dirs)
    sides = {}
    for side, images in (("train", split.train_idx), ("validation", split.val_idx)):
        picked, sequences = chosen(split, images, SARTAJ_PER_SIDE[side], seed)
        x = features(classifier, [split.samples[i].path for i in picked], f"scan-type features ({side})")
        sources = [split.samples[i].source for i in picked]
        sides[side] = (x, np.repeat(sequences, 2).tolist(), np.tile([0, 1], len(picked)), np.repeat(sources, 2))
    model = fit(*sides["train"][:3])
    val_x, val_seq, val_strip, val_sources = sides["validation"]
    model.unsure_below = float(np.quantile(model.sequence_probabilities(val_x).max(axis=1), MAX_UNSURE_SHARE))
    model.save(Path(artifact_dir) / SCAN_TYPE_FILE)
    report = {
        "artifact_sha256": classifier.card.weights_sha256,
        "unsure_rule": f"{MAX_UNSURE_SHARE:.0%} of known-sequence validation scans fall below it",
        "unsure_below": model.unsure_below,
        "train_scans": int(len(sides["train"][0]) // 2),
        "validation": scores(model, val_x, val_seq, val_strip, list(val_sources)),
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
