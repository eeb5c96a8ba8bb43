"""Radiologists' tumour outlines bundled with the app, looked up by the scan's content.

The outlines are those of Cheng et al.'s figshare brain-tumour dataset (article
1512427, CC BY 4.0), attached to the Kaggle scans that are copies of its slices
(see README). One compressed npz holds them all: for each scan, the SHA-256 of
its file bytes, the outline's bounding box and the packed bits inside it.
Written by `write_outline_bank`, read by `OutlineBank`, nowhere else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from model.core.decode import decode_image
from model.core.preprocess import prepare_outline

OUTLINES_FILE = "outlines.npz"
OUTLINE_SOURCE = "Cheng et al., figshare brain tumour dataset (article 1512427), CC BY 4.0"


@dataclass(frozen=True)
class Outline:
    mask: np.ndarray  # bool, the scan's own height x width
    scan: str  # the dataset path of the scan it was drawn on, e.g. Training/glioma_tumor/gg (1).jpg
    figshare_index: int


@dataclass(frozen=True)
class OutlineEntry:
    file_sha256: str
    scan: str
    figshare_index: int
    mask: np.ndarray


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def write_outline_bank(path: Path, entries: Iterable[OutlineEntry]) -> int:
    """Writes every non-empty outline; returns how many. Scans that share bytes keep the first outline."""
    keys, scans, figshare, shapes, boxes, chunks, seen = [], [], [], [], [], [], set()
    for entry in entries:
        mask = np.asarray(entry.mask) > 0
        if entry.file_sha256 in seen or not mask.any():
            continue
        seen.add(entry.file_sha256)
        top, left, bottom, right = _bounding_box(mask)
        keys.append(entry.file_sha256)
        scans.append(entry.scan)
        figshare.append(entry.figshare_index)
        shapes.append(mask.shape)
        boxes.append((top, left, bottom, right))
        chunks.append(np.packbits(mask[top:bottom, left:right]))
    offsets = np.cumsum([0] + [len(c) for c in chunks])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        keys=np.array(keys, dtype="<U64"),
        scans=np.array(scans),
        figshare_index=np.array(figshare, dtype=np.int32),
        shapes=np.array(shapes, dtype=np.int32).reshape(-1, 2),
        boxes=np.array(boxes, dtype=np.int32).reshape(-1, 4),
        offsets=offsets.astype(np.int64),
        bits=np.concatenate(chunks) if chunks else np.zeros(0, np.uint8),
    )
    return len(keys)


class OutlineBank:
    """Outline lookup by the SHA-256 of a scan file's bytes."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self._arrays = arrays
        self._index = {str(key): i for i, key in enumerate(arrays["keys"])}

    @classmethod
    def load(cls, path: Path) -> "OutlineBank":
        with np.load(path) as data:
            return cls({name: data[name] for name in data.files})

    def __len__(self) -> int:
        return len(self._index)

    def get(self, data: bytes) -> Outline | None:
        """The outline drawn on exactly these file bytes, or None (another file, or a scan without one)."""
        i = self._index.get(content_sha256(data))
        if i is None:
            return None
        a = self._arrays
        top, left, bottom, right = (int(v) for v in a["boxes"][i])
        packed = a["bits"][a["offsets"][i] : a["offsets"][i + 1]]
        inside = np.unpackbits(packed, count=(bottom - top) * (right - left)).reshape(bottom - top, right - left)
        mask = np.zeros(tuple(int(v) for v in a["shapes"][i]), dtype=bool)
        mask[top:bottom, left:right] = inside.astype(bool)
        return Outline(mask, str(a["scans"][i]), int(a["figshare_index"][i]))


def prepared_outline(bank: OutlineBank, data: bytes, size: int) -> np.ndarray | None:
    """The outline of an uploaded file, aligned with what the model sees (`prepare`), or None when it has none."""
    outline = bank.get(data)
    if outline is None:
        return None
    return prepare_outline(outline.mask, decode_image(data, outline.scan).rgb, size)
