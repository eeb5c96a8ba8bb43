"""NIfTI volumes (.nii, .nii.gz), read entirely in memory and cut into 2-D slices the classifier can read.

Recognised by content (the header's size and magic, after gunzipping a gzip stream), never by file name. Checked
before any voxel is read: one 3-D volume (a 4-D file of several volumes is refused, a trailing axis of length 1
is dropped), a numeric voxel type, no empty axis, at most `MAX_SLICES` slices and `MAX_UNPACKED_BYTES` of voxels,
and as many bytes as the header promises; a gzip stream is unpacked only up to that limit (a gzip bomb stops
there). The volume is turned to the closest canonical orientation (RAS+, nibabel's `as_closest_canonical`),
windowed once for the whole volume (the 0.5th to 99.5th percentile of its voxels, so that one hot voxel does not
darken every slice) and cut along the asked plane; each slice is shown as a radiologist reads it (anterior or
superior up, the patient's right on the left). Nothing is written to disk.
"""

from __future__ import annotations

import io
import zlib
from enum import StrEnum

import numpy as np

from model.core.limits import MAX_SLICES, MAX_UNPACKED_BYTES
from model.errors import VolumeError
from model.i18n import N_


class Plane(StrEnum):
    """The cut through a volume: an identifier; its words are in `model.report.series_report`."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


PLANES = tuple(Plane)  # the first is the default
_PLANE_AXIS = {Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}  # voxel axes of a RAS+ volume
# A DICOM slice's plane is the axis its normal lies closest to, if within 45 degrees of it (an oblique slice further
# off is left to the recogniser). In the patient's axes (DICOM's LPS as NIfTI's RAS+): x left-right, y front-back.
_NORMAL_PLANE = (Plane.SAGITTAL, Plane.CORONAL, Plane.AXIAL)
MIN_NORMAL_COSINE = float(np.cos(np.pi / 4))
WINDOW_PERCENTILES = (0.5, 99.5)
VOLUME_SUFFIXES = (".nii", ".nii.gz")  # what a folder search picks up; the content decides


def plane_of_orientation(cosines: object) -> Plane | None:
    """The plane of a slice whose row and column direction cosines are `cosines` (a DICOM ImageOrientationPatient);
    None when they are missing, malformed or too oblique."""
    try:
        values = np.asarray(cosines, dtype=float).reshape(6)
    except (TypeError, ValueError):
        return None
    normal = np.abs(np.cross(values[:3], values[3:]))
    if not np.all(np.isfinite(normal)) or normal.max() < MIN_NORMAL_COSINE * max(float(np.linalg.norm(normal)), 1e-9):
        return None
    return _NORMAL_PLANE[int(normal.argmax())]


def gunzipped(data: bytes, name: str) -> bytes:
    """A gzip stream unpacked in memory, refused as soon as it would exceed MAX_UNPACKED_BYTES."""
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        unpacked = unpacker.decompress(data, MAX_UNPACKED_BYTES + 1)
    except zlib.error as error:
        raise VolumeError(N_("{name} looks compressed (gzip) but could not be unpacked."), name=name) from error
    if len(unpacked) > MAX_UNPACKED_BYTES or unpacker.unconsumed_tail:
        raise VolumeError(
            N_("{name} unpacks to more than {limit} MB; it was refused."), name=name, limit=MAX_UNPACKED_BYTES // 2**20
        )
    return unpacked


def read_volume(data: bytes, name: str) -> np.ndarray:
    """The volume's voxels (x, y, z) in RAS+ orientation, as float32, after the header's checks."""
    import nibabel

    image_class = nibabel.Nifti1Image if data[344:348] == b"n+1\0" else nibabel.Nifti2Image
    try:
        header = image_class.header_class.from_fileobj(io.BytesIO(data))
        _check_header(header, len(data), name)
        image = image_class.from_bytes(data)
        canonical = nibabel.as_closest_canonical(image)
        voxels = np.asarray(canonical.dataobj, dtype=np.float32)
    except VolumeError:
        raise
    except Exception as error:  # noqa: BLE001 - nibabel raises many types on damaged headers and data
        raise VolumeError(N_("{name} is a NIfTI volume whose header or data is damaged."), name=name) from error
    return voxels.reshape(voxels.shape[:3]) if voxels.ndim > 3 else voxels


def _check_header(header, size: int, name: str) -> None:
    """Refuses what should not be read: several volumes, no voxels, non-numeric voxels, too many, too few bytes."""
    shape = tuple(int(n) for n in header.get_data_shape())
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 3:
        raise VolumeError(
            N_("{name} holds {count} volumes (time points or sequences); upload one 3-D volume."),
            name=name,
            count=int(np.prod(shape[3:])),
        )
    if len(shape) < 2 or min(shape) == 0:
        raise VolumeError(N_("{name} is a NIfTI file without voxels."), name=name)
    dtype = header.get_data_dtype()
    if dtype.kind not in "iuf" or dtype.fields is not None:
        raise VolumeError(N_("{name} holds {kind} voxels; only grey values can be read."), name=name, kind=dtype.name)
    slices, voxel_bytes = max(shape[:3]), int(np.prod(shape)) * dtype.itemsize
    if slices > MAX_SLICES or voxel_bytes > MAX_UNPACKED_BYTES:
        raise VolumeError(N_("{name} is too large a volume to read here."), name=name)
    if int(header.get_data_offset()) + voxel_bytes > size:
        raise VolumeError(N_("{name} is a NIfTI volume whose data is truncated."), name=name)


def windowed(voxels: np.ndarray) -> np.ndarray:
    """uint8 grey values: the volume's 0.5th-99.5th percentiles stretched to 0-255, the same for every slice."""
    finite = np.nan_to_num(voxels, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = np.percentile(finite, WINDOW_PERCENTILES)
    if high <= low:
        return np.zeros(finite.shape, np.uint8)
    return np.clip(np.rint((finite - low) * (255.0 / (high - low))), 0, 255).astype(np.uint8)


def volume_slices(grey: np.ndarray, plane: Plane = Plane.AXIAL) -> list[np.ndarray]:
    """Every slice along `plane` as H x W x 3 uint8, in the order of the axis (inferior to superior for axial)."""
    if plane not in _PLANE_AXIS:
        raise ValueError(f"unknown plane {plane!r}; choose one of {PLANES}")
    grey = grey[..., None] if grey.ndim == 2 else grey
    axis = _PLANE_AXIS[plane]
    shown = [np.fliplr(np.rot90(np.take(grey, index, axis=axis))) for index in range(grey.shape[axis])]
    return [np.repeat(np.ascontiguousarray(s)[..., None], 3, axis=-1) for s in shown]
