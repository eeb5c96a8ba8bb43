import numpy as np
from PIL import Image

from tests.helpers import synthetic_scan
from training.data.duplicates import ImageHashes, cross_match, duplicate_groups, hamming, hash_images
from training.data.split import grouped_split


def test_hamming_counts_differing_bits():
    a = np.array([0b1011, 0], dtype=np.uint64)
    b = np.array([0b0001], dtype=np.uint64)
    assert hamming(a, b).ravel().tolist() == [2, 1]


def test_resized_reencoded_copy_is_a_near_duplicate(tmp_path):
    rng = np.random.default_rng(0)
    original = Image.fromarray(synthetic_scan(0, rng, size=256))
    original.save(tmp_path / "a.jpg", quality=95)
    original.resize((180, 180)).save(tmp_path / "b.jpg", quality=70)
    Image.fromarray(synthetic_scan(3, rng, size=256)).save(tmp_path / "c.jpg")
    hashes = hash_images([tmp_path / n for n in ("a.jpg", "b.jpg", "c.jpg")])
    groups = duplicate_groups(hashes)
    assert groups[0] == groups[1] != groups[2]
    match = cross_match(
        ImageHashes(hashes.sha256[1:2], hashes.phash[1:2]), ImageHashes(hashes.sha256[:1], hashes.phash[:1])
    )
    assert match.leaked()[0] and not match.exact[0]


def test_exact_copies_group_even_when_phash_is_far():
    hashes = ImageHashes(["x", "y", "x"], np.array([0, 2**64 - 1, 2**63], dtype=np.uint64))
    groups = duplicate_groups(hashes)
    assert groups[0] == groups[2] != groups[1]


def test_split_keeps_duplicate_groups_on_one_side_and_is_seeded():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 60)
    groups = np.arange(240) // 3  # triples of copies
    rng.shuffle(groups)
    train, validation = grouped_split(labels, groups, seed=7)
    assert not set(groups[train]) & set(groups[validation])
    assert len(set(train) | set(validation)) == 240
    assert 0.1 < len(validation) / 240 < 0.25
    for k in range(4):  # stratified
        assert 0.1 < (labels[validation] == k).sum() / (labels == k).sum() < 0.3
    again = grouped_split(labels, groups, seed=7)
    np.testing.assert_array_equal(again[1], validation)
