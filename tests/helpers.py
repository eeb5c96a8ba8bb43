"""Helpers shared by the tests: synthetic scans and datasets, a tiny model card, the shipped samples."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from model.schema.card import CLASS_DIRS, CLASS_LABELS, SAMPLES_DIR, ModelCard
from pages.shared.sitemap import ENTRY_POINT
from pages.shared.sitemap import PAGES as SITE
from training.fitting.metrics import classification_report

ROOT = Path(__file__).resolve().parents[1]  # the repository
TINY_SIZE = 64
PAGES = [ENTRY_POINT, *(page.file for page in SITE)]  # every page of the app, as AppTest opens them


TUMOUR_SPOTS = [(0.3, 0.3), (0.3, 0.7), None, (0.7, 0.5)]  # per class: the blob's centre, as a share of the side


def tumour_mask(label: int, size: int = 96) -> np.ndarray:
    """Where `synthetic_scan` draws the class's blob (all False for no_tumor)."""
    yy, xx = np.mgrid[:size, :size]
    spot = TUMOUR_SPOTS[label]
    if spot is None:
        return np.zeros((size, size), bool)
    cy, cx = (int(f * size) for f in spot)
    return (yy - cy) ** 2 + (xx - cx) ** 2 < (0.09 * size) ** 2


def synthetic_scan(label: int, rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A bright disc ("head") with a class-dependent blob: learnable in seconds by a tiny net."""
    yy, xx = np.mgrid[:size, :size]
    centre = size // 2
    image = np.zeros((size, size), np.float32)
    image[(yy - centre) ** 2 + (xx - centre) ** 2 < (0.37 * size) ** 2] = 60 + rng.integers(0, 40)
    image[tumour_mask(label, size)] = 220
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_dataset(root: Path, per_class: dict[str, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for label, class_dir in enumerate(CLASS_DIRS):
            folder = root / split / class_dir
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(synthetic_scan(label, rng)).convert("RGB").save(folder / f"{i}.jpg", quality=92)
    return root


MANIFEST_SEQUENCES = ("T1", "T2")


def write_manifest_dataset(root: Path, per_sequence: int, seed: int = 1) -> Path:
    """A second source in the manifest layout: no pituitary class, `per_sequence` scans of each other class in each
    sequence, two scans per case group."""
    rng = np.random.default_rng(seed)
    rows = ["file,class,sequence,tumour_type,case_group"]
    for label, class_dir in enumerate(CLASS_DIRS):
        if class_dir == "pituitary_tumor":
            continue
        (root / class_dir).mkdir(parents=True, exist_ok=True)
        for sequence in MANIFEST_SEQUENCES:
            for i in range(per_sequence):
                name = f"{class_dir}/{sequence}_{i}.png"
                scan = synthetic_scan(label, rng)
                Image.fromarray(255 - scan if sequence == "T2" else scan).convert("RGB").save(root / name)
                rows.append(f"{name},{class_dir},{sequence},x,{class_dir}_{sequence}_{i // 2}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


def write_masks(data_dir: Path, root: Path) -> Path:
    """An outlines folder for a `write_dataset` folder, laid out as the real one (README): the blobs' masks."""
    rows = ["split,class_dir,file,figshare_index,figshare_label,phash_distance,correlation,mask_pixels"]
    for scan in sorted(data_dir.glob("*/*/*.jpg")):
        split, class_dir = scan.parts[-3], scan.parts[-2]
        label = CLASS_DIRS.index(class_dir)
        if TUMOUR_SPOTS[label] is None:
            continue
        mask = tumour_mask(label, Image.open(scan).width)
        target = root / split / class_dir / f"{scan.stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask.astype(np.uint8) * 255).save(target)
        rows.append(f"{split},{class_dir},{scan.name},{len(rows)},{class_dir.split('_')[0]},0,1.0,{int(mask.sum())}")
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    return root


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient(size=(96, 64)) -> np.ndarray:
    width, height = size
    return np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))


JPEG = encode(Image.fromarray(gradient()).convert("RGB"), "JPEG", quality=90)  # small valid files of each format
PNG = encode(Image.fromarray(gradient()), "PNG")


def tiny_card_data(**overrides) -> dict:
    """The fields of a tiny model's card, as the file holds them."""
    data = {
        "class_dirs": list(CLASS_DIRS),
        "class_names": [CLASS_LABELS[c] for c in CLASS_DIRS],
        "image_size": TINY_SIZE,
        "backbone": "tiny",
        "calibration": {"temperature": 1.5},
        "artifact": {"weights_file": "none", "sha256": "0" * 64},
        "last_conv_layer": "block14_sepconv2_act",
    }
    return data | overrides


def training_settings(**overrides) -> dict:
    """A card's `training_config` block as a run records it: TrainConfig's defaults, then `overrides`."""
    from training.fitting.config import TrainConfig

    return TrainConfig(data_dir=Path("data")).as_dict() | overrides


def validation_block(selected: str = "finetuned_exit_flow", **selection) -> dict:
    """A card's `validation` block as training writes it, with `selection` (none when empty) and a real report."""
    labels = np.array([0, 1, 2, 3, 0, 1])
    probabilities = np.eye(4)[[0, 1, 2, 3, 1, 1]] * 0.7 + 0.075
    block = {
        "candidates_accuracy": {"frozen_backbone_head": 0.8, selected: 0.95},
        "selected": selected,
        "tta_flip_accuracy": 0.95,
        "no_tta_accuracy": 0.94,
        "nll_before_calibration": 0.3,
        "nll_after_calibration": 0.25,
        "report": classification_report(labels, probabilities, [CLASS_LABELS[c] for c in CLASS_DIRS]),
    }
    return block | ({"selection": {"criterion": "c", "interpolation": [], **selection}} if selection else {})


def tiny_card(**overrides) -> ModelCard:
    return ModelCard.from_dict(tiny_card_data(**overrides))


def sample_scans() -> list[tuple[Path, str]]:
    """(path, class folder) of the sample scans shipped with the artifact: `<class_dir>__<name>.jpg`."""
    return [(p, p.name.split("__")[0]) for p in sorted(SAMPLES_DIR.glob("*.jpg"))]


def dicom(
    pixels: np.ndarray | None,
    photometric="MONOCHROME2",
    syntax=ExplicitVRLittleEndian,
    window=None,
    encapsulated: bytes | None = None,
    modality: str = "MR",
    series: tuple[str, float, int] | None = None,
    bare: bool = False,
    orientation: list[float] | None = None,
) -> bytes:
    """A small DICOM file (MR unless told, with fake patient data that must never be shown) around `pixels`;
    `series` = (series UID, position along z, instance number) makes it a slice of an axial series; `bare` leaves
    out the preamble and file meta (a bare data set in the syntax's encoding, as some exporters write);
    `orientation` sets the row and column direction cosines (ImageOrientationPatient)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName = "Secret^Patient"
    ds.PatientID = "ID-12345"
    if series is not None:
        ds.SeriesInstanceUID, z, ds.InstanceNumber = series
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0.0, 0.0, z], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    if orientation is not None:
        ds.ImageOrientationPatient = orientation
    if pixels is not None or encapsulated is not None:
        shape = pixels.shape if pixels is not None else (64, 64)
        ds.Rows, ds.Columns = shape[-2], shape[-1]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.PixelRepresentation = 0
        if encapsulated is not None:
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
            ds.PixelData = encapsulate([encapsulated])
            ds["PixelData"].VR = "OB"
        elif pixels is not None:
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
            if pixels.ndim == 3:
                ds.NumberOfFrames = pixels.shape[0]
            ds.PixelData = pixels.astype("<u2" if syntax.is_little_endian else ">u2").tobytes()
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = window
    buffer = io.BytesIO()
    if bare:
        del ds.file_meta
        dcmwrite(buffer, ds, implicit_vr=syntax.is_implicit_VR, little_endian=syntax.is_little_endian)
    else:
        dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def nifti(volume: np.ndarray, affine: np.ndarray | None = None, gz: bool = False, nifti2: bool = False) -> bytes:
    """A single-file NIfTI volume in memory (gzipped when `gz`), with an identity (RAS+) affine unless told."""
    import gzip

    import nibabel

    kind = nibabel.Nifti2Image if nifti2 else nibabel.Nifti1Image
    data = kind(volume, np.eye(4) if affine is None else affine).to_bytes()
    return gzip.compress(data, mtime=0) if gz else data


def head_volume(slices: int = 40, seed: int = 0) -> np.ndarray:
    """x, y, z int16 voxels: synthetic heads stacked along z (axial slices)."""
    rng = np.random.default_rng(seed)
    return np.stack([synthetic_scan(index % 4, rng).T for index in range(slices)], axis=-1).astype(np.int16)


def english_left(app) -> list[str]:
    """English a French page still shows: a heading, label or table header equal to an English message, or a
    sentence fragment of one, wherever the French catalog translates it differently (checked against the catalog)."""
    import re

    from babel.messages.pofile import read_po

    from model.i18n import LOCALE_DIR

    with open(LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        messages = [m for m in read_po(handle, locale="fr") if isinstance(m.id, str) and m.id and m.string != m.id]
    french = "\n".join(str(m.string) for m in messages)
    whole = {str(m.id) for m in messages}
    fragments = {
        piece.strip()
        for m in messages
        for piece in re.split(r"\{\w*\}|\*\*|\n", str(m.id))
        if len(piece.strip()) >= 18 and piece.strip() not in french
    }
    shown = [
        str(e.value)
        for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error")
        for e in getattr(app, kind)
    ]
    labels = [
        str(w.label)
        for kind in ("button", "toggle", "radio", "selectbox", "multiselect", "metric", "slider")
        for w in getattr(app, kind)
    ]
    headers = [str(c) for kind in ("dataframe", "table") for frame in getattr(app, kind) for c in frame.value.columns]
    left = [text for text in shown + labels + headers if text.strip("*: ") in whole]
    text = "\n".join(shown + labels)
    return left + sorted(piece for piece in fragments if piece in text)


SERIES_UID = "1.2.826.0.1.3680043.8.498.1"


def series_slices(count: int = 3, uid: str = SERIES_UID) -> list[tuple[str, bytes]]:
    """Slice i is filled with brightness i (so its order can be read back), written in shuffled file order."""
    made = []
    for i in range(count):
        pixels = np.full((96, 96), 100 * (i + 1), np.uint16)
        pixels[:8] = 0  # not a constant image
        made.append((f"IM{(i * 7) % count:04d}_{uid[-1]}.dcm", dicom(pixels, series=(uid, 5.0 * i, count - i))))
    return made[::-1]


def zipped(members: list[tuple[str, bytes]], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def localiser_views(count: int = 7, uid: str = SERIES_UID) -> list[tuple[str, bytes]]:
    """A localiser as some scanners write it: `count` 16 x 16 views, each in its own orientation, under the UID of
    the series they plan."""
    import pydicom

    views = []
    for i in range(count):
        angle = np.pi * i / count
        dataset = pydicom.dcmread(
            io.BytesIO(dicom(np.full((16, 16), 50 * (i + 1), np.uint16), series=(uid, 0.0, 90 + i)))
        )
        dataset.ImageOrientationPatient = [float(np.cos(angle)), float(np.sin(angle)), 0.0, 0.0, 0.0, 1.0]
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        views.append((f"LOC{i}.dcm", buffer.getvalue()))
    return views


def same_image_twice() -> list[tuple[str, bytes]]:
    """pydicom's MR_small.dcm and its RLE-compressed copy: one SOP instance, the same pixels, other bytes."""
    from pydicom.data import get_testdata_file

    return [(name, Path(str(get_testdata_file(name))).read_bytes()) for name in ("MR_small.dcm", "MR_small_RLE.dcm")]
