"""Listing and splitting every training source: groups on one side, Sartaj's split unchanged by other sources."""

import numpy as np
import pytest

from tests.helpers import tiny_card, training_settings, write_dataset, write_manifest_dataset
from training.data.listing import SARTAJ, fingerprint, list_manifest
from training.data.split import split_of, split_training
from training.fitting.selection import verdicts


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    return write_dataset(root / "sartaj", {"Training": 12}), write_manifest_dataset(root / "other", per_sequence=6)


def test_a_manifest_source_records_source_sequence_and_case_group(sources):
    _, other = sources
    samples = list_manifest(other)
    assert len(samples) == 3 * 2 * 6 and {s.source for s in samples} == {"other"}
    assert {s.group for s in samples} == {"other/T1", "other/T2"}
    assert all(s.case_group for s in samples)


def test_a_manifest_with_an_unknown_class_is_refused(tmp_path):
    (tmp_path / "manifest.csv").write_text("file,class,sequence,tumour_type,case_group\na.png,cat,T1,x,g1\n")
    with pytest.raises(ValueError, match="cat"):
        list_manifest(tmp_path)


def test_each_case_group_lies_on_one_side_and_every_sequence_is_validated(sources):
    sartaj, other = sources
    split = split_training(sartaj, 42, [other])
    groups = [split.samples[i].case_group for i in split.val_idx if split.samples[i].source != SARTAJ]
    trained = {split.samples[i].case_group for i in split.train_idx if split.samples[i].source != SARTAJ}
    assert groups and not set(groups) & trained
    assert set(split.validation_groups) == {SARTAJ, "other/T1", "other/T2"}
    assert len(np.unique(split.groups[split.val_idx])) + len(np.unique(split.groups[split.train_idx])) == len(
        np.unique(split.groups)
    )


def test_other_sources_leave_the_sartaj_split_as_it_was(sources):
    sartaj, other = sources
    alone, joined = split_training(sartaj, 42), split_training(sartaj, 42, [other])
    n = len(alone.samples)
    assert joined.samples[:n] == alone.samples
    assert np.array_equal(joined.val_idx[joined.val_idx < n], alone.val_idx)
    assert fingerprint(alone.samples, sartaj) != fingerprint(joined.samples, sartaj)
    card = tiny_card(training_config=training_settings(seed=42, extra_data_dirs=[str(other)]))
    assert split_of(card, sartaj).samples == joined.samples


def test_the_rule_is_the_worst_group_alone_with_no_floor_on_sartaj():
    def row(sha, worst, sartaj):
        return {"artifact_sha256": sha, "worst_group_nll": worst, "groups": {"sartaj": {"accuracy": sartaj}}}

    rows = [row("shipped", 0.9, 0.95), row("better", 0.5, 0.945), row("forgets", 0.4, 0.80), row("worse", 1.0, 0.99)]
    assert [r["beats_shipped"] for r in verdicts(rows, "shipped")] == [None, True, True, False]


def test_the_plane_labels_name_training_scans_only_in_every_plane():
    from model.core.volume import PLANES
    from training.data.planes import read_planes

    planes = read_planes()
    assert planes and all(not name.startswith("Testing/") for name in planes)  # never a Testing scan
    assert set(planes.values()) == set(PLANES)
    assert all(name.startswith(("Training/", "feltrin-dev/")) for name in planes)


def test_known_planes_come_from_an_all_axial_source_and_the_labels_file(tmp_path):
    from model.core.volume import Plane
    from training.data.planes import known_planes

    sartaj = write_dataset(tmp_path / "sartaj", {"Training": 12})
    lgg = write_manifest_dataset(tmp_path / "lgg-dev", per_sequence=6)
    (tmp_path / "planes.csv").write_text("scan,plane\nTraining/glioma_tumor/0.jpg,coronal\n")
    split = split_training(sartaj, 0, [lgg])
    known = known_planes(split, sartaj, tmp_path / "planes.csv")
    named = {split.samples[i].path.relative_to(tmp_path).as_posix(): plane for i, plane in known.items()}
    assert named.pop("sartaj/Training/glioma_tumor/0.jpg") is Plane.CORONAL
    assert named and all(name.startswith("lgg-dev/") and p is Plane.AXIAL for name, p in named.items())
    assert len(named) == sum(s.source == "lgg-dev" for s in split.samples)
