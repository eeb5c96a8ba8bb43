"""The dataset on disk: which files, which labels, and a fingerprint of them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from model.card import CLASS_DIRS
from model.decode import IMAGE_SUFFIXES

TRAIN_SPLIT = "Training"
TEST_SPLIT = "Testing"


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    split: str

    def relative(self, data_dir: Path) -> str:
        return self.path.relative_to(data_dir).as_posix()


def list_split(data_dir: Path, split: str, class_dirs: Sequence[str] = CLASS_DIRS) -> list[Sample]:
    """Every image of `data_dir/split/<class>/`, sorted so that seeds mean the same thing everywhere."""
    root = Path(data_dir) / split
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist; expected {split}/<class>/*.jpg under {data_dir}")
    samples = []
    for label, class_dir in enumerate(class_dirs):
        folder = root / class_dir
        if not folder.is_dir():
            raise FileNotFoundError(f"missing class folder {folder}")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        samples.extend(Sample(path, label, split) for path in files)
    if not samples:
        raise FileNotFoundError(f"no images under {root}")
    return samples


def fingerprint(samples: Sequence[Sample], data_dir: Path) -> str:
    """SHA-256 over (relative path, label, file SHA-256): changes when any image or label does."""
    digest = hashlib.sha256()
    for sample in sorted(samples, key=lambda s: s.relative(data_dir)):
        file_hash = hashlib.sha256(sample.path.read_bytes()).hexdigest()
        digest.update(f"{sample.relative(data_dir)}\t{sample.label}\t{file_hash}\n".encode())
    return digest.hexdigest()
