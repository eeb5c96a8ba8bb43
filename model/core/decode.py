"""Bytes of an upload -> RGB uint8 array, or a typed `InputError`.

The one decoding function for the app, evaluation and training. Formats are
allowed by content, never by file name: JPEG, PNG, BMP, TIFF, WebP, DICOM and
NIfTI (`model.core.volume`). A .zip of one DICOM series is read as a multi-frame
file whose frames are its slices (`model.core.series` checks and orders it), a
volume as one whose frames are its slices along a plane. Nothing is written to disk,
and no DICOM header value leaves these modules: the frame count, and whether the
header names a modality other than MR, are all that `ScanInfo` keeps.
"""

from __future__ import annotations

import functools
import io
import logging
import warnings
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from model.core.limits import (
    MAX_ARCHIVE_BYTES,
    MAX_ASPECT,
    MAX_DECODED_SIDE,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    MIN_SIDE,
    check_size,
    has_dicom_preamble,
    is_dicom,
    is_gzip,
    is_nifti,
    is_zip,
)
from model.core.series import DicomSeries, Upload, archive_members, ordered_series
from model.core.volume import Plane, gunzipped, plane_of_orientation, read_volume, volume_slices, windowed
from model.errors import (
    ArchiveError,
    CorruptImageError,
    DicomError,
    EmptyFileError,
    ImageTooLargeError,
    ImageTooSmallError,
    InputError,
    UnsupportedFormatError,
)
from model.i18n import N_

# File name endings the batch CLI and the dataset listing pick up (content is still sniffed, never trusted).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".dcm"})

ALLOWED_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP")

_UNSUPPORTED = N_(
    "{name} is not a supported image (JPEG, PNG, BMP, TIFF, WebP, DICOM, NIfTI or a .zip of one DICOM series)."
)

ImageFile.LOAD_TRUNCATED_IMAGES = False
# pydicom's warnings and log records quote raw header values (patient names, IDs): silence them.
logging.getLogger("pydicom").disabled = True


class Container(StrEnum):
    """What held the scan: an identifier; the words for it are in `model.report.series_report`."""

    IMAGE = "image"  # a raster file (JPEG, PNG, BMP, TIFF, WebP)
    DICOM = "dicom"  # one DICOM file, one frame or several
    SERIES = "series"  # a DICOM series, zipped or dropped as slices: one slice per file
    VOLUME = "volume"  # a NIfTI volume, cut along a plane


@dataclass(frozen=True)
class ScanInfo:
    """What kind of file a scan came from, safe to show: no DICOM header value is kept, only what follows from one."""

    container: Container
    frames: int = 1  # frames of a multi-frame file, slices of a series or of a volume along its plane
    image_format: str = ""  # Pillow's name of a raster file's format ("PNG", "JPEG"...)
    plane: Plane | None = None  # the cut of a volume, or the plane a DICOM's orientation says
    not_mr: bool = False  # a DICOM header that names a modality other than MR (CT, ultrasound...)
    skipped_small: int = 0  # localiser views a series left out, too small to classify

    @property
    def sliced(self) -> bool:
        """A series or a volume: its frames are slices of one scan, not frames of one file."""
        return self.container in (Container.SERIES, Container.VOLUME)


@dataclass
class DecodedImage:
    rgb: np.ndarray  # H x W x 3 uint8
    info: ScanInfo
    frame: int = 0

    @property
    def frames(self) -> int:
        return self.info.frames


def decode_image(
    data: Upload, name: str = "file", frame: int | None = None, plane: Plane = Plane.AXIAL
) -> DecodedImage:
    """Decodes `data`; `frame` picks a frame of a multi-frame DICOM, a slice of a series or of a volume cut along
    `plane` (default: the middle one)."""
    if isinstance(data, DicomSeries):
        return _decode_series(data.checked_slices(name), name, frame)
    if not data:
        raise EmptyFileError(N_("{name} is empty."), name=name)
    if is_zip(data):
        zipped = ordered_series(archive_members(data, name), name)
        return _decode_series(zipped.slices, name, frame, zipped.skipped_small)
    if is_gzip(data) or is_nifti(data):
        slices = _volume_slices(data, name, plane)
        chosen = len(slices) // 2 if frame is None else min(max(int(frame), 0), len(slices) - 1)
        return _volume_slice(slices, chosen, plane)
    check_size(len(data), name, MAX_FILE_BYTES)
    if is_dicom(data):
        decoded = _decode_dicom(data, name, None if frame is None else [frame])[0]
    else:
        decoded = _decode_raster(data, name)
    _check_shape(decoded.rgb, name)
    return decoded


def decode_frames(data: Upload, name: str = "file", plane: Plane = Plane.AXIAL) -> list[DecodedImage]:
    """Every frame of a multi-frame DICOM, every slice of a series (dropped together or zipped) or of a volume cut
    along `plane`, or the one image of any other file."""
    if isinstance(data, DicomSeries):
        slices = data.checked_slices(name)
        return [_decode_series(slices, name, index) for index in range(len(slices))]
    if is_gzip(data) or is_nifti(data):
        cut = _volume_slices(data, name, plane)
        return [_volume_slice(cut, index, plane) for index in range(len(cut))]
    if is_zip(data):
        zipped = ordered_series(archive_members(data, name), name)
        return [_decode_series(zipped.slices, name, i, zipped.skipped_small) for i in range(len(zipped.slices))]
    first = decode_image(data, name, 0)
    if first.frames == 1 or not is_dicom(data):  # other formats: the first frame, as decode_image reads them
        return [first]
    every = _decode_dicom(data, name, list(range(first.frames)))  # one parse for every frame
    for frame in every:
        _check_shape(frame.rgb, name)
    return every


def _volume_slices(data: bytes, name: str, plane: Plane) -> list[np.ndarray]:
    """The slices of a NIfTI volume (gzipped or not), checked like any upload; bytes that are not one refused."""
    check_size(len(data), name, MAX_ARCHIVE_BYTES)
    raw = gunzipped(data, name) if is_gzip(data) else data
    if not is_nifti(raw):
        raise UnsupportedFormatError(_UNSUPPORTED, name=name)
    slices = _grey_slices(raw, name, plane)
    for rgb in slices[:1]:
        _check_shape(rgb, name)
    return slices


@functools.lru_cache(maxsize=2)
def _grey_slices(raw: bytes, name: str, plane: Plane) -> list[np.ndarray]:
    """Cached for the last two volumes: moving the slider over a volume reads it once, not once per slice."""
    return volume_slices(windowed(read_volume(raw, name)), plane)


def _volume_slice(slices: list[np.ndarray], index: int, plane: Plane) -> DecodedImage:
    return DecodedImage(slices[index], ScanInfo(Container.VOLUME, len(slices), plane=plane), index)


def _decode_series(slices: list[bytes], name: str, frame: int | None, skipped_small: int = 0) -> DecodedImage:
    chosen = len(slices) // 2 if frame is None else min(max(int(frame), 0), len(slices) - 1)
    try:
        decoded = decode_image(slices[chosen], name)
    except InputError as error:  # said of the series, with the slice's number
        raise ArchiveError(N_("Slice {number} of {name} cannot be read."), name=name, number=chosen + 1) from error
    if decoded.frames > 1:
        raise ArchiveError(N_("{name} holds a multi-frame file; a series is one slice per file."), name=name)
    info = replace(decoded.info, container=Container.SERIES, frames=len(slices), skipped_small=skipped_small)
    return DecodedImage(decoded.rgb, info, chosen)


def _check_shape(rgb: np.ndarray, name: str) -> None:
    _check_sides(rgb.shape[1], rgb.shape[0], name)


def _check_sides(width: int, height: int, name: str) -> None:
    """Large enough and not a strip, said in the file's own pixel size (before any reduction)."""
    if min(height, width) < MIN_SIDE:
        raise ImageTooSmallError(
            N_("{name} is {width}x{height} pixels; at least {side}x{side} is needed."),
            name=name,
            width=width,
            height=height,
            side=MIN_SIDE,
        )
    if max(height, width) / min(height, width) > MAX_ASPECT:
        raise ImageTooSmallError(
            N_("{name} is {width}x{height} pixels, too elongated to be an MRI slice."),
            name=name,
            width=width,
            height=height,
        )


def _decode_raster(data: bytes, name: str) -> DecodedImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageTooLargeError(
                        N_("{name} is {width}x{height} pixels; the limit is {limit} megapixels."),
                        name=name,
                        width=image.width,
                        height=image.height,
                        limit=MAX_PIXELS // 1_000_000,
                    )
                _check_sides(image.width, image.height, name)
                fmt = image.format or "unknown"
                frames = getattr(image, "n_frames", 1)
                image.draft(image.mode, (MAX_DECODED_SIDE, MAX_DECODED_SIDE))  # JPEG only; a no-op for others
                image.load()
                rgb = _to_rgb8(ImageOps.exif_transpose(_reduced(image)))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(N_("{name} is too large to decode safely."), name=name) from error
    except UnidentifiedImageError as error:
        raise UnsupportedFormatError(_UNSUPPORTED, name=name) from error
    except ImageTooLargeError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise CorruptImageError(
            N_("{name} looks like an image but could not be decoded: it may be truncated or damaged."), name=name
        ) from error
    return DecodedImage(rgb, ScanInfo(Container.IMAGE, frames, image_format=fmt))


def _reduced(image: Image.Image) -> Image.Image:
    """At most MAX_DECODED_SIDE pixels per side, by an integer box reduction (16-bit images as 32-bit first)."""
    factor = -(-max(image.size) // MAX_DECODED_SIDE)
    if factor <= 1:
        return image
    return (image.convert("I") if image.mode.startswith("I;16") else image).reduce(factor)


def _to_rgb8(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _gray_to_rgb8(np.asarray(image, dtype=np.float64))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _gray_to_rgb8(values: np.ndarray) -> np.ndarray:
    """Min-max scales any grayscale range (16-bit PNG, windowed DICOM) to 8 bits."""
    values = np.nan_to_num(values.astype(np.float64))
    low, high = float(values.min()), float(values.max())
    scaled = np.zeros_like(values) if high <= low else (values - low) * (255.0 / (high - low))
    gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def _decode_dicom(data: bytes, name: str, frames: list[int] | None) -> list[DecodedImage]:
    """The asked frames of a DICOM file (None: the middle one), from one parse of the file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _read_dicom(data, name, frames)
        except InputError:  # already says why (a DicomError, or bytes that only looked like a bare data set)
            raise
        except Exception as error:  # noqa: BLE001 - pydicom's parser raises many types on damaged files
            raise DicomError(N_("{name} is a DICOM file that is damaged or incomplete."), name=name) from error


def _dicom_pixels(data: bytes, name: str):
    """(dataset, pixel array of every frame), or a DicomError that says why not."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    bare = not has_dicom_preamble(data)
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=bare)  # force: a bare data set has no "DICM" to check
        if bare:
            _declare_transfer_syntax(dataset)
    except Exception as error:  # noqa: BLE001 - pydicom's parser raises many types on damaged or non-DICOM bytes
        if bare:  # never claimed to be DICOM: as any other unknown bytes
            raise UnsupportedFormatError(_UNSUPPORTED, name=name) from error
        if isinstance(error, InvalidDicomError):
            raise DicomError(N_("{name} has a DICOM signature but could not be read."), name=name) from error
        raise
    if "PixelData" not in dataset and "FloatPixelData" not in dataset:
        if bare:
            raise UnsupportedFormatError(_UNSUPPORTED, name=name)
        raise DicomError(N_("{name} is a DICOM file without image data (pixel data is missing)."), name=name)
    try:
        return dataset, dataset.pixel_array
    except (NotImplementedError, RuntimeError) as error:
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
        if syntax is not None and getattr(syntax, "is_compressed", False):
            raise DicomError(
                N_("{name} uses {syntax}, a DICOM compression this app cannot decode."), name=name, syntax=syntax.name
            ) from error
        raise DicomError(N_("{name} is a DICOM file whose pixel data is damaged or incomplete."), name=name) from error


def _declare_transfer_syntax(dataset) -> None:
    """A bare data set has no file meta to say how it is encoded: pydicom found out while reading it."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    implicit, little = dataset.original_encoding
    if implicit is None or "Rows" not in dataset:
        raise ValueError("not a DICOM image data set")
    syntax = ImplicitVRLittleEndian if implicit else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    dataset.file_meta = getattr(dataset, "file_meta", None) or FileMetaDataset()
    if "TransferSyntaxUID" not in dataset.file_meta:
        dataset.file_meta.TransferSyntaxUID = syntax


def _read_dicom(data: bytes, name: str, asked: list[int] | None) -> list[DecodedImage]:
    dataset, pixels = _dicom_pixels(data, name)
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    chosen = [frames // 2] if asked is None else [min(max(int(f), 0), frames - 1) for f in asked]
    info = ScanInfo(
        Container.DICOM,
        frames,
        plane=plane_of_orientation(getattr(dataset, "ImageOrientationPatient", None)),
        not_mr=str(getattr(dataset, "Modality", "")) != "MR",  # absent: not MR
    )
    return [
        DecodedImage(_dicom_frame_rgb(dataset, pixels[index] if frames > 1 else pixels, name), info, index)
        for index in chosen
    ]


def _dicom_frame_rgb(dataset, pixels: np.ndarray, name: str) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    samples = int(getattr(dataset, "SamplesPerPixel", 1) or 1)
    if np.ndim(pixels) != (3 if samples == 3 else 2):  # a header that disagrees with its own pixel data
        raise DicomError(N_("{name} is a DICOM file whose image layout this app cannot read."), name=name)
    if samples == 3:
        rgb = np.asarray(pixels)
        return rgb if rgb.dtype == np.uint8 else _gray_to_rgb8(rgb.mean(axis=-1))
    values = apply_modality_lut(pixels, dataset)
    if "WindowCenter" in dataset or "VOILUTSequence" in dataset:
        values = apply_voi_lut(values, dataset, prefer_lut=True)
    if getattr(dataset, "PhotometricInterpretation", "") == "MONOCHROME1":
        values = values.max() - values
    return _gray_to_rgb8(np.asarray(values, dtype=np.float64))


def decode_file(path, frame: int | None = None) -> DecodedImage:
    """Convenience for training and tools: the same checks as an upload."""
    with open(path, "rb") as handle:
        return decode_image(handle.read(), name=str(path), frame=frame)
