"""A DICOM series, uploaded as a .zip or as several files, read slice by slice entirely in memory.

Zips are checked before anything is unpacked: member names that climb out of
the archive or are absolute or links are refused (nothing is ever written to
disk, but such a zip is not an honest series), as are archives whose members
would unpack to much more than they weigh (zip bombs) or to more than the
limits below. Slices are ordered by their position along the slice normal, else
their instance number, else their name. Header values used for ordering and
grouping (series UID, positions) never leave this module; only the modality
and the slice count are shown.
"""

from __future__ import annotations

import hashlib
import io
import stat
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TypeVar

import numpy as np

from model.core.limits import (
    MAX_ARCHIVE_BYTES,
    MAX_RATIO,
    MAX_SLICES,
    MAX_UNPACKED_BYTES,
    MIN_SIDE,
    check_size,
    has_dicom_preamble,
    is_dicom,
)
from model.errors import ArchiveError
from model.i18n import N_


@dataclass(frozen=True)
class DicomSeries:
    """DICOM slices dropped together that belong to one series: one scan, its slices' own bytes in slice order
    (`group_series`), never packed into an archive to be unpacked again."""

    slices: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return sum(len(data) for data in self.slices)

    def checked_slices(self, name: str) -> list[bytes]:
        """Its slices, held to a zipped series' limits: unpacked size and slice count."""
        check_size(self.size, name, MAX_UNPACKED_BYTES)
        _check_slice_count(len(self.slices), name)
        return list(self.slices)


Upload = bytes | DicomSeries  # what a visitor hands over: one file, or the slices of one series


def upload_size(upload: Upload) -> int:
    return upload.size if isinstance(upload, DicomSeries) else len(upload)


def upload_digest(upload: Upload) -> str:
    """The upload's content, as a SHA-256 (a series: of its slices' digests, in order)."""
    if isinstance(upload, bytes):
        return hashlib.sha256(upload).hexdigest()
    return hashlib.sha256(b"".join(hashlib.sha256(data).digest() for data in upload.slices)).hexdigest()


def _check_slice_count(count: int, name: str) -> None:
    if count > MAX_SLICES:
        raise ArchiveError(
            N_("{name} holds {count} files; a series may have at most {limit}."),
            name=name,
            count=count,
            limit=MAX_SLICES,
        )


def _check_member(info: zipfile.ZipInfo, name: str) -> None:
    path = PurePosixPath(info.filename.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (info.filename[1:2] == ":"):
        raise ArchiveError(N_("{name} holds a file whose name points outside the archive; it was refused."), name=name)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ArchiveError(N_("{name} holds a symbolic link; it was refused."), name=name)
    if info.file_size > MAX_RATIO * max(info.compress_size, 1) and info.file_size > 1024 * 1024:
        raise ArchiveError(N_("{name} unpacks to far more than it weighs (a zip bomb?); it was refused."), name=name)


def archive_members(data: bytes, name: str) -> list[tuple[str, bytes]]:
    """(member name, bytes) of every file in the zip, after the checks in this module's docstring."""
    check_size(len(data), name, MAX_ARCHIVE_BYTES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ArchiveError(
            N_("{name} looks like a .zip but could not be opened: it may be damaged."), name=name
        ) from error
    _check_slice_count(len(infos), name)
    for info in infos:
        _check_member(info, name)
    if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
        raise ArchiveError(
            N_("{name} unpacks to more than {limit} MB; it was refused."), name=name, limit=MAX_UNPACKED_BYTES // 2**20
        )
    members, unpacked = [], 0
    try:
        for info in infos:
            with archive.open(info) as member:
                content = member.read(info.file_size + 1)  # never more than the size it declares
            unpacked += len(content)
            if len(content) > info.file_size or unpacked > MAX_UNPACKED_BYTES:
                raise ArchiveError(N_("{name} unpacks to more than it declares; it was refused."), name=name)
            members.append((info.filename, content))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
        raise ArchiveError(
            N_("{name} has a damaged or encrypted member and could not be unpacked."), name=name
        ) from error
    return members


@dataclass(frozen=True)
class SlicePlace:
    series: str | None  # a hash of the series UID and the slice geometry (None without a UID): never shown
    order: tuple[float, float, str]  # position along the slice normal, instance number, name
    frames: int = 1  # a multi-frame file is a scan of its own, never a slice of a series
    instance: str | None = None  # a hash of the SOP instance UID: one image, however it is encoded
    small: bool = False  # smaller than the model can read (a localiser's thumbnails)


@dataclass(frozen=True)
class SeriesSlices:
    """A zipped series' slices in order, and how many files were left out as too small to classify."""

    slices: list[bytes]
    skipped_small: int = 0


def slice_place(data: bytes, name: str) -> SlicePlace | None:
    """Where a DICOM slice sits in its series, or None when the header cannot be read."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=not has_dicom_preamble(data))
        uid = str(getattr(header, "SeriesInstanceUID", ""))
        position = np.asarray(getattr(header, "ImagePositionPatient", None) or [np.nan] * 3, dtype=float)
        cosines = np.asarray(getattr(header, "ImageOrientationPatient", None) or [np.nan] * 6, dtype=float)
        along = float(np.dot(position, np.cross(cosines[:3], cosines[3:])))
        instance = float(getattr(header, "InstanceNumber", None) or np.nan)
        frames = int(getattr(header, "NumberOfFrames", 1) or 1)
        # Slices of one series share its UID, their size and their orientation; files that differ in either are
        # different scans even under one UID (a localiser, a reformat, a multi-frame file beside single slices).
        rows, columns = getattr(header, "Rows", None), getattr(header, "Columns", None)
        geometry = f"{rows or ''}x{columns or ''}:{np.round(cosines, 3).tolist()}"
        sop = str(getattr(header, "SOPInstanceUID", ""))
    except Exception:  # noqa: BLE001 - pydicom raises many types on damaged headers; decoding reports them
        return None
    nan_last = lambda value: np.inf if np.isnan(value) else value  # noqa: E731
    series = _digest(f"{uid}|{geometry}") if uid else None
    small = rows is not None and columns is not None and min(int(rows), int(columns)) < MIN_SIDE
    return SlicePlace(series, (nan_last(along), nan_last(instance), name), frames, _digest(sop) if sop else None, small)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


Placed = TypeVar("Placed", bound=tuple)  # a file's (SlicePlace | None, ...), as ordering and grouping hold them


def distinct_images(placed: list[Placed]) -> list[Placed]:
    """Each image once, first come first kept: the same SOP instance twice (a file and its recompressed copy) is one
    scan. `placed` holds tuples whose first item is the file's `SlicePlace` (or None)."""
    seen: set[str] = set()
    kept = []
    for item in placed:
        instance = item[0].instance if item[0] is not None else None
        if instance is None or instance not in seen:
            kept.append(item)
        if instance is not None:
            seen.add(instance)
    return kept


def ordered_series(members: list[tuple[str, bytes]], name: str) -> SeriesSlices:
    """The DICOM members of one series, in slice order, each image once; other files (a README, a DICOMDIR) are
    left out, and so are slices too small to classify beside bigger ones (a localiser's views of every
    orientation, which share the series UID), counted."""
    found = [(slice_place(data, member), data) for member, data in members if is_dicom(data)]
    placed = distinct_images([(place, data) for place, data in found if place is not None])
    if not placed:
        raise ArchiveError(N_("{name} holds no DICOM slices."), name=name)
    readable = [(place, data) for place, data in placed if not place.small] or placed
    series = {place.series for place, _ in readable if place.series is not None}
    if len(series) > 1:
        raise ArchiveError(
            N_("{name} holds {count} DICOM series; upload one series per .zip."), name=name, count=len(series)
        )
    ordered = [data for _, data in sorted(readable, key=lambda item: item[0].order)]
    return SeriesSlices(ordered, len(placed) - len(readable))


SERIES_NAME = N_("series of {count} slices ({first} …)")


def group_series(files: list[tuple[str, bytes]], series_name: str = SERIES_NAME) -> list[tuple[str, Upload]]:
    """Uploads as they should be classified: DICOM slices sharing a series become one `DicomSeries`, in slice
    order, named by `series_name` (a template with {count} and {first}: the app passes it translated)."""
    by_series: dict[str, list[tuple[SlicePlace | None, str, bytes]]] = {}
    placed = distinct_images(
        [(slice_place(data, name) if is_dicom(data) else None, name, data) for name, data in files]
    )
    for place, name, data in placed:
        alone = place is None or place.series is None or place.frames > 1
        key = f"file:{name}" if alone or place is None else str(place.series)
        by_series.setdefault(key, []).append((place, name, data))
    grouped: list[tuple[str, Upload]] = []
    for key, members in by_series.items():
        if key.startswith("file:") or len(members) == 1:
            grouped += [(name, data) for _, name, data in members]
        else:
            ordered = sorted(members, key=lambda member: member[0].order if member[0] else ())
            label = series_name.format(count=len(members), first=members[0][1])
            grouped.append((label, DicomSeries(tuple(data for _, _, data in ordered))))
    return grouped
