"""NIfTI volumes: read by content, reoriented, windowed once, cut along a plane, refused with a typed error."""

import gzip

import numpy as np
import pytest

from model.core import volume
from model.core.archive import classify_locally
from model.core.decode import Container, ScanInfo, decode_frames, decode_image
from model.core.volume import Plane
from model.errors import UnsupportedFormatError, VolumeError
from tests.helpers import head_volume, nifti


@pytest.mark.parametrize("gz, nifti2", [(False, False), (True, False), (True, True)], ids=["nii", "nii.gz", "nifti2"])
def test_a_volume_is_cut_into_axial_slices_and_shown_from_the_middle(gz, nifti2):
    data = nifti(head_volume(40), gz=gz, nifti2=nifti2)
    frames = decode_frames(data, "head.nii.gz")
    assert len(frames) == 40 and frames[0].rgb.shape == (96, 96, 3) and frames[0].info.container is Container.VOLUME
    middle = decode_image(data, "head.nii.gz")
    assert (middle.frames, middle.frame) == (40, 20)
    assert middle.info == ScanInfo(Container.VOLUME, 40, plane=Plane.AXIAL)


def test_the_plane_picks_the_axis_and_the_slices_are_shown_as_a_radiologist_reads_them():
    voxels = np.zeros((48, 64, 40), np.int16)
    voxels[40, 60, 20] = 1000  # right (high x), anterior (high y), mid-height
    frames = decode_frames(nifti(voxels), "v.nii")
    bright = np.unravel_index(np.argmax(frames[20].rgb[..., 0]), frames[20].rgb.shape[:2])
    assert bright[0] < 8 and bright[1] < 16  # anterior at the top, the patient's right on the left
    assert len(decode_frames(nifti(voxels), "v.nii", Plane.CORONAL)) == 64
    assert len(decode_frames(nifti(voxels), "v.nii", Plane.SAGITTAL)) == 48


def test_a_flipped_affine_is_turned_to_the_canonical_orientation():
    voxels = np.zeros((48, 64, 40), np.int16)
    voxels[7, 60, 20] = 1000  # low x index, but the affine says x runs right to left: the voxel is on the right
    flipped = np.diag([-1.0, 1.0, 1.0, 1.0])
    frame = decode_frames(nifti(voxels, flipped), "v.nii")[20].rgb[..., 0]
    assert np.unravel_index(np.argmax(frame), frame.shape)[1] < 16


def test_one_hot_voxel_does_not_darken_the_whole_volume():
    voxels = head_volume(40).astype(np.float32)
    voxels[0, 0, 0] = 1e6
    assert decode_image(nifti(voxels), "hot.nii").rgb.max() == 255
    assert decode_image(nifti(voxels), "hot.nii").rgb.mean() > 20


@pytest.mark.parametrize(
    "voxels, words",
    [
        (np.zeros((64, 64, 40, 3), np.int16), "holds 3 volumes"),
        (np.zeros((64, 64, 40), np.complex64), "only grey values"),
        (np.zeros((64, 0, 40), np.int16), "without voxels"),
    ],
    ids=["4-D", "complex", "empty-axis"],
)
def test_what_is_not_one_grey_3d_volume_is_refused_with_a_typed_error(voxels, words):
    with pytest.raises(VolumeError, match=words):
        decode_image(nifti(voxels), "bad.nii")


def test_a_trailing_axis_of_length_one_is_one_volume():
    assert decode_image(nifti(head_volume(40)[..., None]), "v.nii").frames == 40


def test_truncated_data_and_a_header_claiming_a_huge_volume_are_refused():
    data = nifti(head_volume(40))
    with pytest.raises(VolumeError, match="truncated"):
        decode_image(data[: len(data) // 2], "cut.nii")
    huge = bytearray(data)
    huge[42:44] = (30000).to_bytes(2, "little")  # dim[1] of the NIfTI-1 header
    with pytest.raises(VolumeError, match="too large"):
        decode_image(bytes(huge), "huge.nii")


def test_a_gzip_bomb_stops_at_the_limit(monkeypatch):
    monkeypatch.setattr(volume, "MAX_UNPACKED_BYTES", 2**20)
    with pytest.raises(VolumeError, match="unpacks to more than"):
        decode_image(gzip.compress(b"\0" * 2**22), "bomb.nii.gz")


def test_a_gzip_that_is_not_a_volume_is_not_a_supported_image():
    with pytest.raises(UnsupportedFormatError):
        decode_image(gzip.compress(b"just some text " * 100), "notes.txt.gz")


def test_the_cli_writes_one_row_per_slice_of_a_volume(tiny_classifier, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "head.nii.gz").write_bytes(nifti(head_volume(6), gz=True))
    (folder / "notes.gz").write_bytes(b"not picked up: only .nii and .nii.gz")
    rows = classify_locally(tiny_classifier, [folder], tmp_path / "out.csv")
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert rows == 6 and len(lines) == 7
    assert [line.split(",")[0].endswith("head.nii.gz") for line in lines[1:]] == [True] * 6
