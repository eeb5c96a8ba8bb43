"""What an upload may be, before any decoder sees it: the size limits, named for what each protects, and the
content sniffers (magic bytes) that pick a format. Every decoder (`decode` for rasters and DICOM, `series` for zips
and dropped slices, `volume` for NIfTI) imports from here and from nothing above it, so there is no circle.
"""

from __future__ import annotations

from model.errors import ImageTooLargeError
from model.i18n import N_

# The server's memory: what one upload may weigh. An image file is held to the first; a zip of one series or a
# volume, which holds many slices, to the second (also the app's upload limit, .streamlit/config.toml).
MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024
# What a series or volume may unpack to, and hold, however little it weighs packed.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_SLICES = 1000
MAX_RATIO = 100  # unpacked / packed size of one zip member; DICOM compresses a few times, bombs a thousand
# The decoder's memory: what one image may hold, and the side larger images are reduced to while they are decoded
# (JPEG at a fraction of its size, others right after loading): the model sees a few hundred pixels.
MAX_PIXELS = 40_000_000
MAX_DECODED_SIDE = 2048
# What the model can read at all.
MIN_SIDE = 32
MAX_ASPECT = 6.0

ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b"
_DICOM_MAGIC_OFFSET = 128
_BARE_DICOM_MIN_BYTES = 256


def check_size(size: int, name: str, limit: int) -> None:
    """The first check on any upload, image, .zip or series: no more than `limit` bytes."""
    if size > limit:
        raise ImageTooLargeError(
            N_("{name} is {size} MB; the limit is {limit} MB."),
            name=name,
            size=round(size / 2**20),
            limit=limit // 2**20,
        )


def has_dicom_preamble(data: bytes) -> bool:
    return len(data) >= _DICOM_MAGIC_OFFSET + 4 and data[_DICOM_MAGIC_OFFSET : _DICOM_MAGIC_OFFSET + 4] == b"DICM"


def is_dicom(data: bytes) -> bool:
    """A DICOM file by content: the 128-byte preamble and "DICM", or a bare data set (older files and some
    exporters write no preamble and no file meta) whose first element is a group 0x0002 or 0x0008 tag in either
    byte order (`_bare_first_element`), believed only if pydicom then parses it into an image (`_dicom_pixels`)."""
    if has_dicom_preamble(data):
        return True
    return len(data) >= _BARE_DICOM_MIN_BYTES and _bare_first_element(data)


def _bare_first_element(data: bytes) -> bool:
    """Group 0x0002 or 0x0008, then an explicit VR (two capitals) or an implicit VR length that fits the file."""
    for order in ("little", "big"):
        if int.from_bytes(data[:2], order) not in (0x0002, 0x0008):
            continue
        vr = data[4:6]
        if vr.isalpha() and vr.isupper():
            return True
        if order == "little" and int.from_bytes(data[4:8], "little") < len(data):
            return True
    return False


def is_zip(data: bytes) -> bool:
    return data[:4] == ZIP_MAGIC


def is_gzip(data: bytes) -> bool:
    return data[:2] == _GZIP_MAGIC


def is_nifti(data: bytes) -> bool:
    """A single-file NIfTI-1 (348-byte header, "n+1") or NIfTI-2 (540 bytes, "n+2"), in either byte order."""
    for order in ("little", "big"):
        size = int.from_bytes(data[:4], order) if len(data) >= 4 else 0
        if size == 348 and data[344:348] == b"n+1\0":
            return True
        if size == 540 and data[4:8] == b"n+2\0":
            return True
    return False
