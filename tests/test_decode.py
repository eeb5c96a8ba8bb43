"""A corpus of odd and broken inputs, generated here, each with its exact expected outcome."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
)

from model.core.decode import MAX_DECODED_SIDE, MAX_FILE_BYTES, MIN_SIDE, Container, ScanInfo, decode_image
from model.core.volume import Plane
from model.errors import (
    CorruptImageError,
    DicomError,
    EmptyFileError,
    ImageTooLargeError,
    ImageTooSmallError,
    InputError,
    UnsupportedFormatError,
)
from tests.helpers import JPEG, PNG, dicom, encode, gradient


def ramp16(height=64, width=64) -> np.ndarray:
    return np.tile(np.linspace(0, 4000, width), (height, 1)).astype(np.uint16)


# ---- refused, with the typed error and a sentence naming the file -------------------------------


@pytest.mark.parametrize(
    "data, error, words",
    [
        (b"", EmptyFileError, "is empty"),
        (b"hello, I am text pretending to be a JPEG\n" * 4, UnsupportedFormatError, "not a supported image"),
        (JPEG[: len(JPEG) // 2], CorruptImageError, "truncated"),
        (PNG[: len(PNG) // 2], CorruptImageError, "truncated"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", UnsupportedFormatError, "not a supported image"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>',
            UnsupportedFormatError,
            "not a supported image",
        ),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n", UnsupportedFormatError, "not a supported"),
        (encode(Image.new("L", (1, 1)), "PNG"), ImageTooSmallError, "1x1"),
        (encode(Image.new("L", (10000, 10)), "PNG"), ImageTooSmallError, "10000x10"),
        (encode(Image.new("L", (800, 100)), "PNG"), ImageTooSmallError, "elongated"),
        (b"\x00" * 128 + b"DICM" + b"\x00garbage" * 20, DicomError, "could not be read|pixel data is missing|damaged"),
        (dicom(None), DicomError, "pixel data is missing"),
        (b"\x00" * 200, UnsupportedFormatError, "not a supported image"),
    ],
    ids=[
        "empty",
        "text-as-jpg",
        "truncated-jpeg",
        "truncated-png",
        "pdf",
        "svg",
        "eps",
        "1x1",
        "10000x10-strip",
        "elongated",
        "dicm-garbage",
        "dicom-no-pixels",
        "zeros",
    ],
)
def test_bad_inputs_raise_typed_errors(data, error, words):
    with pytest.raises(error, match=words) as raised:
        decode_image(data, "upload.jpg")
    assert "upload.jpg" in str(raised.value)


def test_animated_gif_is_refused():
    frames = [Image.fromarray(gradient()), Image.fromarray(255 - gradient())]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(UnsupportedFormatError):
        decode_image(data, "a.gif")


def test_decompression_bomb_is_an_error_not_a_warning():
    bomb = encode(Image.new("1", (12000, 12000)), "PNG")  # a few kB that decode to 144 megapixels
    assert len(bomb) < 100_000
    with pytest.raises(ImageTooLargeError, match="megapixels|too large"):
        decode_image(bomb, "bomb.png")


def test_oversized_file_is_refused_before_decoding():
    with pytest.raises(ImageTooLargeError, match="MB"):
        decode_image(b"\xff" * (MAX_FILE_BYTES + 1), "huge.jpg")


def test_non_dicom_with_dcm_name_is_refused():
    with pytest.raises(UnsupportedFormatError):
        decode_image(b"just bytes, no DICM marker" * 10, "scan.dcm")


def test_dicom_with_unsupported_compression_says_so():
    data = dicom(None, syntax=JPEG2000Lossless, encapsulated=b"\xff\x4f\xff\x51" + b"\x00" * 64)
    with pytest.raises(DicomError, match="compression|damaged"):
        decode_image(data, "j2k.dcm")


# ---- decoded correctly ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, mode", [("PNG", "L"), ("JPEG", "RGB"), ("PNG", "I;16")])
def test_a_huge_image_is_reduced_while_decoding(fmt, mode):
    """40 megapixels, reduced to at most MAX_DECODED_SIDE per side with its aspect ratio (JPEG by DCT scaling)."""
    big = Image.fromarray(np.tile(np.linspace(0, 255, 8000, dtype=np.uint8), (5000, 1)))
    image = big.convert("I;16") if mode == "I;16" else big.convert(mode)
    decoded = decode_image(encode(image, fmt), "big")
    height, width = decoded.rgb.shape[:2]
    assert max(height, width) <= MAX_DECODED_SIDE and abs(width / height - 1.6) < 0.01
    assert decoded.rgb[:, -1].mean() > 200 > 50 > decoded.rgb[:, 0].mean()  # the picture, not a blank


def test_an_image_within_the_side_limit_is_decoded_pixel_for_pixel():
    side = MAX_DECODED_SIDE
    image = Image.fromarray(np.tile(np.arange(side, dtype=np.uint16) % 256, (side // 4, 1)).astype(np.uint8))
    np.testing.assert_array_equal(decode_image(encode(image, "PNG"), "edge").rgb[..., 0], np.asarray(image))


def test_plain_jpeg_and_png_decode_to_rgb_uint8():
    for data in (JPEG, PNG):
        decoded = decode_image(data, "x")
        assert decoded.rgb.shape == (64, 96, 3) and decoded.rgb.dtype == np.uint8


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "WEBP"])
def test_other_allowed_formats(fmt):
    decoded = decode_image(encode(Image.fromarray(gradient()), fmt), "x")
    assert decoded.info == ScanInfo(Container.IMAGE, image_format=fmt) and decoded.rgb.shape == (64, 96, 3)


def test_sixteen_bit_png_and_tiff_use_the_full_range():
    values = np.tile(np.linspace(1000, 3000, 96), (64, 1)).astype(np.uint16)
    for fmt in ("PNG", "TIFF"):
        decoded = decode_image(encode(Image.fromarray(values), fmt), "x")
        assert decoded.rgb.min() == 0 and decoded.rgb.max() == 255


def test_cmyk_jpeg():
    decoded = decode_image(encode(Image.fromarray(gradient()).convert("CMYK"), "JPEG"), "x")
    assert decoded.rgb.shape == (64, 96, 3)


def test_palette_png_with_transparency_composites_on_black():
    image = Image.fromarray(gradient()).convert("P")
    image.info["transparency"] = 0
    decoded = decode_image(encode(image, "PNG", transparency=0), "x")
    assert decoded.rgb[:, 0].max() == 0


def test_rgba_png():
    rgba = np.dstack([np.repeat(gradient()[..., None], 3, -1), np.full((64, 96), 255, np.uint8)])
    assert decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"), "x").rgb.shape == (64, 96, 3)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    data = encode(Image.fromarray(gradient()).convert("RGB"), "JPEG", exif=exif.tobytes())
    assert decode_image(data, "x").rgb.shape == (96, 64, 3)


def test_dicom_uncompressed_and_no_patient_data_in_details():
    decoded = decode_image(dicom(ramp16()), "scan.dcm")
    assert decoded.info.container is Container.DICOM and decoded.rgb.shape == (64, 64, 3)
    assert decoded.rgb[:, 0].max() == 0 and decoded.rgb[:, -1].min() == 255
    assert decoded.info == ScanInfo(Container.DICOM, 1, not_mr=False)
    assert "Secret" not in repr(decoded) and "12345" not in repr(decoded)


@pytest.mark.parametrize(
    "cosines, plane",
    [
        ([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], Plane.AXIAL),
        ([1.0, 0.0, 0.0, 0.0, 0.0, -1.0], Plane.CORONAL),
        ([0.0, 1.0, 0.0, 0.0, 0.0, -1.0], Plane.SAGITTAL),
        ([0.94, 0.0, 0.34, 0.0, 1.0, 0.0], Plane.AXIAL),  # tilted 20 degrees: still axial
        ([0.7, 0.7, 0.0, 0.0, 0.7, 0.7], None),  # oblique: left to the recogniser
        ([1.0, 0.0, 0.0], None),  # malformed
        (None, None),
    ],
)
def test_a_dicom_slice_says_its_plane_from_its_orientation(cosines, plane):
    assert decode_image(dicom(ramp16(), orientation=cosines), "scan.dcm").info.plane == plane


def test_dicom_monochrome1_is_inverted():
    normal = decode_image(dicom(ramp16()), "a").rgb
    inverted = decode_image(dicom(ramp16(), photometric="MONOCHROME1"), "b").rgb
    np.testing.assert_array_equal(inverted, 255 - normal)


def test_dicom_window_is_applied():
    windowed = decode_image(dicom(ramp16(), window=(1000, 400)), "w").rgb[0, :, 0]
    assert (windowed == 0).sum() > 10 and (windowed == 255).sum() > 10  # clipped outside the window


def test_dicom_multiframe_defaults_to_the_middle_frame():
    frames = np.stack([np.full((64, 64), v, np.uint16) for v in (0, 1000, 2000, 3000, 4000)])
    frames[:, :, :8] = 0  # a dark strip so that min-max scaling keeps each frame's level visible
    decoded = decode_image(dicom(frames), "cine.dcm")
    assert decoded.frames == 5 and decoded.frame == 2
    assert decode_image(dicom(frames), "cine.dcm", frame=0).frame == 0
    assert decode_image(dicom(frames), "cine.dcm", frame=99).frame == 4


def test_dicom_jpeg_baseline():
    jpeg = encode(Image.fromarray(np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))), "JPEG", quality=95)
    decoded = decode_image(dicom(None, syntax=JPEGBaseline8Bit, encapsulated=jpeg), "jpeg.dcm")
    assert decoded.rgb.shape == (64, 64, 3) and decoded.rgb[:, -1].mean() > 200


def test_dicom_header_values_never_reach_logs_or_warnings(caplog, recwarn):
    damaged = bytearray(dicom(ramp16()))
    damaged[200:204] = b"\x00\x00\xff\xff"
    for data in (dicom(ramp16()), bytes(damaged), dicom(None)):
        try:
            decode_image(data, "x.dcm")
        except InputError as error:
            assert "Secret" not in str(error)
    assert "Secret" not in caplog.text and "12345" not in caplog.text
    assert not any("Secret" in str(w.message) for w in recwarn)


# ---- fuzz: mutated valid files never raise anything but the typed errors -------------------------

SEEDS = [JPEG, PNG, dicom(ramp16())]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow], report_multiple_bugs=False)
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_fuzzed_inputs_only_raise_typed_errors(seed, data):
    mutated = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 12))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    try:
        decoded = decode_image(bytes(mutated), "fuzz")
    except InputError:
        return
    assert decoded.rgb.dtype == np.uint8 and decoded.rgb.ndim == 3


def pydicom_test_files():
    from pydicom.data import get_testdata_files

    return sorted(p for p in get_testdata_files("*") if os.path.isfile(p) and (p.endswith(".dcm") or "." not in p))


def pydicom_decodes(data: bytes) -> bool:
    """What pydicom itself makes of the file: an image of at least MIN_SIDE pixels per side (force: any data set)."""
    import io
    import warnings

    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = pydicom.dcmread(io.BytesIO(data), force=True).pixel_array
    except Exception:  # noqa: BLE001 - anything pydicom cannot decode is out of the sweep's promise
        return False
    sides = pixels.shape[-3:-1] if pixels.ndim >= 3 and pixels.shape[-1] in (3, 4) else pixels.shape[-2:]
    return min(sides) >= MIN_SIDE


def test_every_pydicom_test_file_that_pydicom_decodes_is_decoded_and_the_rest_refused_with_a_typed_error():
    decoded, refused = [], []
    for path in pydicom_test_files():
        data = open(path, "rb").read()
        try:
            decode_image(data, "sweep.dcm")
            decoded.append(path)
        except InputError as error:
            assert "sweep.dcm" in str(error)
            refused.append(path)
    expected = [path for path in decoded + refused if pydicom_decodes(open(path, "rb").read())]
    assert sorted(expected) == sorted(decoded) and len(decoded) >= 40


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian], ids=str)
def test_a_bare_data_set_without_preamble_or_file_meta_is_read_by_its_content(syntax):
    decoded = decode_image(dicom(ramp16(), syntax=syntax, bare=True), "bare")
    assert decoded.info.container is Container.DICOM and decoded.rgb[0, 0, 0] == 0 and decoded.rgb[0, -1, 0] == 255


def test_bytes_that_merely_start_like_a_bare_data_set_are_not_a_supported_image():
    with pytest.raises(UnsupportedFormatError):
        decode_image(b"\x08\x00\x16\x00UI" + bytes(range(256)) * 2, "fake")


def test_the_apps_upload_limit_is_the_librarys_largest():
    import tomllib

    from model.core.limits import MAX_ARCHIVE_BYTES, MAX_FILE_BYTES

    config = tomllib.loads((Path(__file__).parent.parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == MAX_ARCHIVE_BYTES > MAX_FILE_BYTES
