"""The datasets on disk: which files, which labels, which source and sequence, and a fingerprint of them.

Two layouts are read:

- the Sartaj layout, `<dir>/Training/<class>/*.jpg` (and `Testing/`, which training never reads);
- the manifest layout, `<dir>/manifest.csv` with columns file, class, sequence and case_group (feltrin-dev):
  training and validation images only, each with its MRI sequence and the group of images that probably
  come from one case.

Every sample records its source and sequence, so validation can be scored per group (source x sequence).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from model.core.decode import IMAGE_SUFFIXES
from model.schema.card import CLASS_DIRS

TRAIN_SPLIT = "Training"
TEST_SPLIT = "Testing"
MANIFEST = "manifest.csv"
SARTAJ = "sartaj"
# Sartaj's sequences are not recorded (its tumour scans are post-contrast T1, its no-tumour scans a mix), so the
# source is one group: split by sequence, each part would hold only tumours or only no-tumour scans.
MIXED_SEQUENCES = "mixed"


def recorded_path(path: Path) -> str:
    """`path` as a committed result file records it: relative to the working directory (the checkout) when it lies
    inside it, so that no file holds the training machine's absolute paths."""
    resolved = Path(path).resolve()
    inside = resolved.is_relative_to(Path.cwd())
    return (resolved.relative_to(Path.cwd()) if inside else Path(path)).as_posix()


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    split: str
    source: str = SARTAJ
    sequence: str = MIXED_SEQUENCES
    case_group: str | None = None  # the manifest's case group; Sartaj's groups come from duplicate hashing

    def relative(self, data_dir: Path) -> str:
        return self.path.relative_to(data_dir).as_posix()

    @property
    def group(self) -> str:
        """The validation group: the source, and for sources that record it, the sequence."""
        return self.source if self.sequence == MIXED_SEQUENCES else f"{self.source}/{self.sequence}"


def list_split(data_dir: Path, split: str, class_dirs: Sequence[str] = CLASS_DIRS) -> list[Sample]:
    """Every image of `data_dir/split/<class>/`, sorted so that seeds mean the same thing everywhere."""
    root = Path(data_dir) / split
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist; expected {split}/<class>/*.jpg under {data_dir}")
    samples: list[Sample] = []
    for label, class_dir in enumerate(class_dirs):
        folder = root / class_dir
        if not folder.is_dir():
            raise FileNotFoundError(f"missing class folder {folder}")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        samples.extend(Sample(path, label, split) for path in files)
    if not samples:
        raise FileNotFoundError(f"no images under {root}")
    return samples


def list_manifest(data_dir: Path, class_dirs: Sequence[str] = CLASS_DIRS) -> list[Sample]:
    """Every image a manifest-layout folder lists, sorted by file; the source is the folder's name."""
    manifest = Path(data_dir) / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} does not exist; expected a manifest.csv beside the class folders")
    with manifest.open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["file"])
    unknown = sorted({row["class"] for row in rows} - set(class_dirs))
    if unknown:
        raise ValueError(f"{manifest} names classes the model does not have: {', '.join(unknown)}")
    source = Path(data_dir).resolve().name
    samples = [
        Sample(
            Path(data_dir) / row["file"],
            class_dirs.index(row["class"]),
            TRAIN_SPLIT,
            source,
            row["sequence"],
            row["case_group"],
        )
        for row in rows
    ]
    if not samples:
        raise FileNotFoundError(f"{manifest} lists no images")
    return samples


def is_manifest_layout(data_dir: Path) -> bool:
    return (Path(data_dir) / MANIFEST).is_file()


def scan_name(sample: Sample, data_dir: Path) -> str:
    """A name unique across sources: the path inside a Sartaj folder, `<source>/<file>` for other sources."""
    if sample.source == SARTAJ:
        return sample.relative(data_dir)
    return f"{sample.source}/{sample.path.parent.name}/{sample.path.name}"


def fingerprint(samples: Sequence[Sample], data_dir: Path) -> str:
    """SHA-256 over (name, label, file SHA-256): changes when any image or label does (Sartaj-only runs keep the
    fingerprint they had before other sources could be added)."""
    digest = hashlib.sha256()
    for name, sample in sorted(((scan_name(s, data_dir), s) for s in samples), key=lambda pair: pair[0]):
        file_hash = hashlib.sha256(sample.path.read_bytes()).hexdigest()
        digest.update(f"{name}\t{sample.label}\t{file_hash}\n".encode())
    return digest.hexdigest()
