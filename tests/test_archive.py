"""An archive into one results file: both engines give the same rows, a rerun skips what the file holds."""

import csv
import shutil

import pytest

from model.core.archive import CONTENT_HASH, classify_archive, content_hash, output_fields
from model.schema.card import load_card
from tests.helpers import head_volume, nifti


@pytest.fixture(scope="module")
def archive(tmp_path_factory, synthetic_dataset):
    """Scans of every kind the CLI reads, and one that is broken (an error row)."""
    folder = tmp_path_factory.mktemp("archive")
    shutil.copytree(synthetic_dataset / "Testing", folder / "scans")
    (folder / "scans" / "head.nii.gz").write_bytes(nifti(head_volume(4), gz=True))
    (folder / "scans" / "broken.jpg").write_bytes(b"not an image")
    return folder / "scans"


def rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return sorted(csv.DictReader(handle), key=lambda r: (r["file"], r["frame"]))


@pytest.fixture(scope="module")
def ray_cluster():
    import ray  # a dev dependency (requirements-scale.txt): never skipped

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_the_ray_engine_gives_the_local_engines_rows(archive, trained, tmp_path, ray_cluster):
    artifact = trained[2].out_dir
    added_locally = classify_archive([archive], tmp_path / "local.csv", artifact)
    added_on_ray = classify_archive([archive], tmp_path / "ray.csv", artifact, engine="ray", actors=2)
    local, on_ray = rows(tmp_path / "local.csv"), rows(tmp_path / "ray.csv")
    assert added_locally == added_on_ray == len(local) and local == on_ray
    assert sum(1 for r in local if r["frame"]) == 4 and sum(1 for r in local if r["error"]) == 1


def test_a_rerun_skips_every_file_the_output_holds_even_one_that_was_not_a_scan(archive, trained, tmp_path):
    artifact, out = trained[2].out_dir, tmp_path / "results.csv"
    first = classify_archive([archive], out, artifact)
    assert classify_archive([archive], out, artifact) == 0
    extra = archive.parent / "more"
    extra.mkdir(exist_ok=True)
    done_scan = next(p for p in archive.rglob("*.jpg") if p.name != "broken.jpg")
    shutil.copy(done_scan, extra / "copy_of_a_done_scan.jpg")  # same bytes: already done
    (extra / "head2.nii").write_bytes(nifti(head_volume(3)))
    assert classify_archive([archive, extra], out, artifact) == 3  # the new volume's slices, not the copy
    written = rows(out)
    assert len(written) == first + 3
    assert {r[CONTENT_HASH] for r in written if r["file"].endswith("head2.nii")} == {content_hash(extra / "head2.nii")}


def test_parquet_holds_the_csv_columns_and_is_resumed_too(archive, trained, tmp_path):
    import pandas

    artifact, out = trained[2].out_dir, tmp_path / "results.parquet"
    first = classify_archive([archive], out, artifact)
    assert classify_archive([archive], out, artifact) == 0
    table = pandas.read_parquet(out)
    assert len(table) == first and list(table.columns) == output_fields(load_card(artifact).class_names)


def test_an_output_with_other_columns_is_refused_not_appended_to(archive, trained, tmp_path):
    out = tmp_path / "old.csv"
    out.write_text("file,prediction\nscan.jpg,Glioma\n")
    with pytest.raises(ValueError, match="other columns"):
        classify_archive([archive], out, trained[2].out_dir)
    assert out.read_text() == "file,prediction\nscan.jpg,Glioma\n"
