"""DICOM series as a .zip or several files: order, limits, refusals, and nothing of the header shown."""

import io
import zipfile

import numpy as np
import pytest

from model.core.decode import Container, ScanInfo, decode_frames, decode_image
from model.core.series import MAX_RATIO, DicomSeries, group_series
from model.core.volume import Plane
from model.errors import ArchiveError, ImageTooLargeError, InputError
from model.report.series_report import slices_summary
from tests.helpers import SERIES_UID as UID
from tests.helpers import dicom, localiser_views, same_image_twice, synthetic_scan, zipped
from tests.helpers import series_slices as slices


def test_a_zipped_series_is_read_in_slice_order_and_shown_from_the_middle():
    data = zipped(slices(3) + [("README.txt", b"not a slice")])
    frames = decode_frames(data, "series.zip")
    brightness = [float(f.rgb[20:, :, 0].mean()) for f in frames]
    assert len(frames) == 3 and brightness == sorted(brightness)  # ordered by position, not by file name
    middle = decode_image(data, "series.zip")
    assert (middle.info, middle.frame) == (ScanInfo(Container.SERIES, 3, plane=Plane.AXIAL), 1)  # axial slices
    np.testing.assert_array_equal(decode_image(data, "series.zip", frame=2).rgb, frames[2].rgb)


@pytest.mark.parametrize("member", ["../outside.dcm", "/etc/passwd", "C:/Windows/evil.dcm", "a/../../b.dcm"], ids=str)
def test_member_names_that_leave_the_archive_are_refused(member):
    with pytest.raises(ArchiveError, match="outside the archive"):
        decode_image(zipped(slices(2) + [(member, b"x")]), "series.zip")


def test_a_symbolic_link_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link.dcm")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="symbolic link"):
        decode_image(buffer.getvalue(), "series.zip")


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    bomb = zipped([("bomb.dcm", bytes(50 * 1024 * 1024))])
    assert len(bomb) * MAX_RATIO < 50 * 1024 * 1024
    with pytest.raises(ArchiveError, match="zip bomb"):
        decode_image(bomb, "series.zip")


def test_two_series_in_one_zip_and_a_zip_without_slices_are_refused():
    with pytest.raises(ArchiveError, match="2 DICOM series"):
        decode_image(zipped(slices(2) + slices(2, uid="1.2.3.4")[:1]), "mixed.zip")
    with pytest.raises(ArchiveError, match="no DICOM slices"):
        decode_image(zipped([("notes.txt", b"hello")]), "empty.zip")
    with pytest.raises(ArchiveError, match="damaged"):
        decode_image(zipped(slices(2))[:200], "cut.zip")


def test_no_header_value_reaches_a_message_or_the_scan_info():
    data = zipped(slices(2))
    decoded = decode_image(data, "series.zip")
    shown = repr(decoded.info)
    for secret in ("Secret", "ID-12345", UID):
        assert secret not in shown
    with pytest.raises(ArchiveError) as refused:
        decode_image(zipped(slices(2) + slices(1, uid="9.9")), "mixed.zip")
    assert "Secret" not in str(refused.value) and UID not in str(refused.value)


def test_slices_dropped_together_become_one_series_and_other_files_stay_apart():
    other = ("photo.dcm", dicom(synthetic_scan(1, np.random.default_rng(1)).astype(np.uint16)))
    grouped = group_series(list(reversed(slices(3))) + [other])  # dropped in any order
    assert [name for name, _ in grouped][1] == "photo.dcm"
    name, data = grouped[0]
    assert isinstance(data, DicomSeries) and name.startswith("series of 3 slices")
    assert decode_image(data, name).frames == 3
    as_zip = decode_frames(zipped(slices(3)), "s.zip")  # the same series uploaded as a .zip reads the same
    assert [d.rgb.tobytes() for d in decode_frames(data, name)] == [d.rgb.tobytes() for d in as_zip]


def test_a_series_dropped_as_slices_is_held_to_the_limits_of_a_zipped_one(monkeypatch):
    import model.core.series as series_module

    series = DicomSeries(tuple(data for _, data in slices(3)))
    monkeypatch.setattr(series_module, "MAX_SLICES", 2)
    with pytest.raises(ArchiveError, match="holds 3 files; a series may have at most 2"):
        decode_frames(series, "series")
    monkeypatch.setattr(series_module, "MAX_UNPACKED_BYTES", series.size - 1)
    with pytest.raises(ImageTooLargeError):
        decode_image(series, "series")


def test_a_multi_frame_file_and_a_slice_of_another_size_stay_apart_from_the_series_they_share_a_uid_with():
    """One result per scan, never a merged refusal: a multi-frame file is its own scan, and a localiser of
    another size under the same series UID is not one of its slices."""
    multi = (
        "cine.dcm",
        dicom(
            np.stack([synthetic_scan(0, np.random.default_rng(i)) for i in range(3)]).astype(np.uint16),
            series=(UID, 0.0, 1),
        ),
    )
    localiser = ("localiser.dcm", dicom(np.zeros((48, 64), np.uint16) + 7, series=(UID, 0.0, 1)))
    grouped = group_series(slices(3) + [multi, localiser])
    assert [name for name, _ in grouped][1:] == ["cine.dcm", "localiser.dcm"]
    assert [len(decode_frames(data, name)) for name, data in grouped] == [3, 3, 1]


def test_a_bare_dicom_slice_is_grouped_like_any_other():
    bare = [
        (name, dicom(decode_image(data, name).rgb[..., 0].astype(np.uint16), series=(UID, float(i), i), bare=True))
        for i, (name, data) in enumerate(slices(2))
    ]
    grouped = group_series(bare)
    assert len(grouped) == 1 and decode_image(grouped[0][1], grouped[0][0]).frames == 2


def test_the_series_summary_counts_each_class_and_the_flagged_slices():
    line = slices_summary(["Glioma", "Meningioma", "No tumour"], [0, 0, 2, 0], [False, True, False, False])
    assert line == "4 slices: 3 Glioma, 1 No tumour; 1 not like a training MRI"


def test_every_frame_of_a_multi_frame_file_comes_from_one_parse(monkeypatch):
    import pydicom

    frames = np.stack([np.full((64, 64), 40 * (i + 1), np.uint16) for i in range(6)])
    frames[:, :4] = 0
    data, reads = dicom(frames), []
    original = pydicom.dcmread
    monkeypatch.setattr(pydicom, "dcmread", lambda *a, **k: reads.append(1) or original(*a, **k))
    every = decode_frames(data, "cine.dcm")
    assert len(every) == 6 and len(reads) <= 2  # the first frame's checks, then all frames at once
    for index in (0, 3, 5):
        np.testing.assert_array_equal(every[index].rgb, decode_image(data, "cine.dcm", index).rgb)


def test_an_unreadable_slice_is_named_by_its_number():
    broken = slices(3)
    broken[0] = (broken[0][0], broken[0][1][:400])  # the last slice in order: cut short
    data = zipped(broken)
    with pytest.raises(ArchiveError, match="Slice 3 of series.zip cannot be read"):
        decode_image(data, "series.zip", frame=2)


def test_a_localisers_small_views_under_the_series_uid_are_left_out_and_counted():
    data = zipped(slices(3) + localiser_views(7))
    shown = decode_image(data, "series.zip")
    assert shown.frames == 3 and shown.info.skipped_small == 7
    assert len(decode_frames(data, "series.zip")) == 3


def test_a_localiser_alone_is_still_refused_as_too_small():
    with pytest.raises(InputError, match="Slice 1 of localiser.zip cannot be read"):
        decode_image(zipped(localiser_views(2)[:1]), "localiser.zip")


def test_the_same_image_dropped_twice_is_one_scan():
    grouped = group_series(same_image_twice())
    assert [name for name, _ in grouped] == ["MR_small.dcm"] and isinstance(grouped[0][1], bytes)
    assert decode_image(zipped(same_image_twice()), "pair.zip").frames == 1
