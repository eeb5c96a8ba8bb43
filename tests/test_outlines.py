import numpy as np

from model.core.outlines import OUTLINES_FILE, OutlineBank, OutlineEntry, content_sha256, write_outline_bank
from model.schema.card import ARTIFACT_DIR
from tests.helpers import sample_scans


def test_the_bank_gives_back_each_outline_by_the_scans_bytes(tmp_path):
    rng = np.random.default_rng(0)
    masks = [rng.random((40, 60)) > 0.7, np.pad(np.ones((5, 7), bool), ((3, 2), (10, 1)))]
    entries = [OutlineEntry(content_sha256(bytes([i])), f"Training/x/{i}.jpg", 100 + i, m) for i, m in enumerate(masks)]
    assert write_outline_bank(tmp_path / "bank.npz", entries) == 2
    bank = OutlineBank.load(tmp_path / "bank.npz")
    for i, mask in enumerate(masks):
        outline = bank.get(bytes([i]))
        np.testing.assert_array_equal(outline.mask, mask)
        assert outline.scan == f"Training/x/{i}.jpg" and outline.figshare_index == 100 + i
    assert bank.get(b"another file") is None


def test_empty_outlines_are_not_stored(tmp_path):
    entry = OutlineEntry(content_sha256(b"a"), "a.jpg", 1, np.zeros((4, 4), bool))
    assert write_outline_bank(tmp_path / "bank.npz", [entry]) == 0
    assert len(OutlineBank.load(tmp_path / "bank.npz")) == 0


def test_the_committed_bank_knows_the_outlined_example_scans():
    bank = OutlineBank.load(ARTIFACT_DIR / OUTLINES_FILE)
    assert len(bank) > 2000
    outlined = {path.name for path, _ in sample_scans() if bank.get(path.read_bytes()) is not None}
    assert outlined == {path.name for path, _ in sample_scans() if "__outlined_" in path.name}
    assert len(outlined) == 3  # one per tumour class
