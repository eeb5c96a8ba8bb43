"""Exact and near-duplicate detection (SHA-256 and `imagehash.phash`).

Near duplicates are what leaks between the splits here: most Testing images are
re-encoded or resized copies of Training images, which a byte hash misses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import imagehash
import numpy as np
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from tqdm import tqdm

# Hamming distance between 64-bit pHashes at or below which two scans count as the
# same picture. 0 finds the 257 re-encoded copies; 4 adds a few lightly edited ones.
NEAR_DUPLICATE_DISTANCE = 4


@dataclass
class ImageHashes:
    sha256: list[str]
    phash: np.ndarray  # uint64, one per image


def hash_images(paths: Sequence[Path], desc: str = "hashing") -> ImageHashes:
    shas, phashes = [], []
    for path in tqdm(paths, desc=desc, unit="img", leave=False):
        data = Path(path).read_bytes()
        shas.append(hashlib.sha256(data).hexdigest())
        with Image.open(path) as image:
            bits = imagehash.phash(image.convert("L")).hash.flatten()
        phashes.append(int("".join("1" if b else "0" for b in bits), 2))
    return ImageHashes(shas, np.array(phashes, dtype=np.uint64))


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All-pairs Hamming distances between two vectors of 64-bit hashes."""
    return np.bitwise_count(a[:, None] ^ b[None, :]).astype(np.int16)


def duplicate_groups(hashes: ImageHashes, max_distance: int = NEAR_DUPLICATE_DISTANCE) -> np.ndarray:
    """A group id per image: images linked by a chain of near or exact duplicates share it."""
    n = len(hashes.sha256)
    rows, cols = np.nonzero(hamming(hashes.phash, hashes.phash) <= max_distance)
    by_sha: dict[str, int] = {}
    extra_rows, extra_cols = [], []
    for index, sha in enumerate(hashes.sha256):
        first = by_sha.setdefault(sha, index)
        extra_rows.append(first)
        extra_cols.append(index)
    rows = np.concatenate([rows, extra_rows])
    cols = np.concatenate([cols, extra_cols])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


@dataclass
class CrossMatch:
    """For each query image: the nearest reference image and how it matches."""

    nearest: np.ndarray  # index into the reference set
    distance: np.ndarray  # pHash Hamming distance
    exact: np.ndarray  # byte-identical to some reference image

    def leaked(self, max_distance: int = NEAR_DUPLICATE_DISTANCE) -> np.ndarray:
        return self.exact | (self.distance <= max_distance)


def cross_match(query: ImageHashes, reference: ImageHashes) -> CrossMatch:
    distances = hamming(query.phash, reference.phash)
    nearest = distances.argmin(axis=1)
    reference_shas = set(reference.sha256)
    exact = np.array([sha in reference_shas for sha in query.sha256], dtype=bool)
    return CrossMatch(nearest=nearest, distance=distances[np.arange(len(nearest)), nearest], exact=exact)
