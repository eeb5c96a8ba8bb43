"""The expert tumour outlines folder: reading it, its label conflicts, and rebuilding it from figshare.

Layout (see README): `<masks_dir>/<split>/<class_dir>/<stem of the JPEG>.png`, binary 8-bit PNGs of
exactly the scan's size, and `index.csv` with one row per mask. The outlines come from Cheng et al.'s
figshare release (article 1512427, CC BY 4.0): its .mat files are MATLAB v7.3 (HDF5) with
`cjdata/image`, `cjdata/label` (1 meningioma, 2 glioma, 3 pituitary) and `cjdata/tumorMask`.
A Kaggle scan gets a slice's outline when the two are the same picture: perceptual-hash Hamming
distance <= 4, then the highest pixel correlation after resizing, kept if >= 0.9.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import h5py
import imagehash
import numpy as np
from PIL import Image
from tqdm import tqdm

from model.core.decode import decode_file
from model.core.outlines import OutlineEntry, content_sha256, write_outline_bank
from model.core.preprocess import to_gray
from model.i18n import N_
from training.data.listing import Sample, list_split

INDEX_FILE = "index.csv"
INDEX_COLUMNS = (
    "split",
    "class_dir",
    "file",
    "figshare_index",
    "figshare_label",
    "phash_distance",
    "correlation",
    "mask_pixels",
)
FIGSHARE_LABELS = {1: N_("meningioma"), 2: N_("glioma"), 3: N_("pituitary")}  # the app shows them translated
MATCH_PHASH_DISTANCE = 4
MATCH_MIN_CORRELATION = 0.9


@dataclass(frozen=True)
class MaskRow:
    split: str
    class_dir: str
    file: str
    figshare_index: int
    figshare_label: str

    @property
    def scan(self) -> str:
        """The scan's path inside the dataset folder."""
        return f"{self.split}/{self.class_dir}/{self.file}"

    @property
    def label_conflict(self) -> bool:
        """figshare calls the slice another tumour type than the Kaggle folder does."""
        return not self.class_dir.startswith(self.figshare_label)


def mask_path(masks_dir: Path, scan: str) -> Path:
    """`Training/glioma_tumor/gg (1).jpg` -> `<masks_dir>/Training/glioma_tumor/gg (1).png`."""
    return Path(masks_dir) / Path(scan).with_suffix(".png")


def read_index(masks_dir: Path) -> list[MaskRow]:
    with open(Path(masks_dir) / INDEX_FILE, newline="", encoding="utf-8") as handle:
        return [
            MaskRow(r["split"], r["class_dir"], r["file"], int(r["figshare_index"]), r["figshare_label"])
            for r in csv.DictReader(handle)
        ]


def load_mask(masks_dir: Path, scan: str) -> np.ndarray | None:
    """The outline of a dataset scan as a bool array of the scan's size, or None when it has none."""
    path = mask_path(masks_dir, scan)
    if not path.exists():
        return None
    return np.asarray(Image.open(path).convert("L")) > 127


def label_conflicts(masks_dir: Path) -> list[MaskRow]:
    return [row for row in read_index(masks_dir) if row.label_conflict]


def bank_entries(data_dir: Path, masks_dir: Path) -> Iterator[OutlineEntry]:
    for row in read_index(masks_dir):
        mask = load_mask(masks_dir, row.scan)
        if mask is not None:
            data = (Path(data_dir) / row.scan).read_bytes()
            yield OutlineEntry(content_sha256(data), row.scan, row.figshare_index, mask)


def build_outline_bank(data_dir: Path, masks_dir: Path, out: Path) -> int:
    """The app's outline file (`model.core.outlines`) from the masks folder and the scans they belong to."""
    return write_outline_bank(out, tqdm(bank_entries(data_dir, masks_dir), desc="packing outlines", unit="mask"))


@dataclass(frozen=True)
class FigshareSlice:
    index: int
    label: str
    image: np.ndarray  # uint8, min-max scaled
    mask: np.ndarray  # bool


def read_figshare_slice(path: Path) -> FigshareSlice:
    """One figshare .mat file (HDF5): MATLAB stores arrays column-major, hence the transposes."""
    with h5py.File(path, "r") as handle:
        data = handle["cjdata"]
        image = np.asarray(data["image"], dtype=np.float64).T
        mask = np.asarray(data["tumorMask"]).T > 0
        label = int(np.asarray(data["label"]).ravel()[0])
    span = max(image.max() - image.min(), 1e-9)
    scaled = np.round((image - image.min()) / span * 255).astype(np.uint8)
    return FigshareSlice(int(path.stem), FIGSHARE_LABELS[label], scaled, mask)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _best_match(
    gray: np.ndarray, phash: imagehash.ImageHash, slices: Sequence[FigshareSlice], hashes: Sequence[imagehash.ImageHash]
) -> tuple[FigshareSlice, int, float] | None:
    best = None
    for candidate, candidate_hash in zip(slices, hashes):
        distance = phash - candidate_hash
        if distance > MATCH_PHASH_DISTANCE:
            continue
        resized = np.asarray(Image.fromarray(candidate.image).resize(gray.shape[::-1], Image.Resampling.BILINEAR))
        correlation = _correlation(gray, resized)
        if correlation >= MATCH_MIN_CORRELATION and (best is None or correlation > best[2]):
            best = (candidate, distance, correlation)
    return best


def _resized_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape == shape:
        return mask
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(shape[::-1], Image.Resampling.NEAREST)) > 0


def rebuild_masks(
    figshare_dir: Path, data_dir: Path, out: Path, splits: Sequence[str] = ("Training", "Testing")
) -> int:
    """Writes `out/<split>/<class>/<stem>.png` and `out/index.csv` for every tumour scan that is a figshare slice."""
    slices = [read_figshare_slice(p) for p in tqdm(sorted(Path(figshare_dir).glob("*.mat")), desc="reading figshare")]
    hashes = [imagehash.phash(Image.fromarray(s.image)) for s in slices]
    rows = []
    for split in splits:
        samples: list[Sample] = [s for s in list_split(data_dir, split) if "no_tumor" not in s.path.parent.name]
        for sample in tqdm(samples, desc=f"matching {split}"):
            gray = to_gray(decode_file(sample.path).rgb)
            match = _best_match(gray, imagehash.phash(Image.fromarray(gray)), slices, hashes)
            if match is None:
                continue
            found, distance, correlation = match
            mask = _resized_mask(found.mask, gray.shape)
            scan = sample.relative(data_dir)
            target = mask_path(out, scan)
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask.astype(np.uint8) * 255).save(target)
            rows.append(
                [
                    split,
                    sample.path.parent.name,
                    sample.path.name,
                    found.index,
                    found.label,
                    distance,
                    f"{correlation:.4f}",
                    int(mask.sum()),
                ]
            )
    with open(Path(out) / INDEX_FILE, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(INDEX_COLUMNS)
        writer.writerows(rows)
    return len(rows)
