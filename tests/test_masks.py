import h5py
import numpy as np
from PIL import Image

from model.core.outlines import OutlineBank
from tests.helpers import synthetic_scan, tumour_mask, write_dataset, write_masks
from training.data.masks import build_outline_bank, label_conflicts, load_mask, read_index, rebuild_masks


def write_figshare_slice(path, image: np.ndarray, mask: np.ndarray, label: int) -> None:
    """A figshare-style MATLAB v7.3 file: HDF5, arrays stored column-major (transposed)."""
    with h5py.File(path, "w") as handle:
        group = handle.create_group("cjdata")
        group["image"] = image.astype(np.int16).T
        group["tumorMask"] = mask.astype(np.uint8).T
        group["label"] = np.array([[label]], dtype=np.float64)


def test_rebuild_attaches_each_slices_outline_to_its_kaggle_copy(tmp_path):
    rng = np.random.default_rng(1)
    data = tmp_path / "data"
    figshare = tmp_path / "figshare"
    figshare.mkdir()
    # Kaggle folder class -> figshare label (1 meningioma, 2 glioma, 3 pituitary); the last one disagrees.
    cases = [("glioma_tumor", 0, 2), ("meningioma_tumor", 1, 1), ("pituitary_tumor", 3, 3), ("pituitary_tumor", 1, 1)]
    for number, (class_dir, drawn, label) in enumerate(cases, start=1):
        scan = synthetic_scan(drawn, rng, size=128).astype(np.int16) * 3  # figshare stores raw intensities
        write_figshare_slice(figshare / f"{number}.mat", scan, tumour_mask(drawn, 128), label)
        folder = data / "Training" / class_dir
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((scan // 3).astype(np.uint8)).convert("RGB").save(folder / f"s{number}.jpg", quality=90)
    (data / "Training" / "no_tumor").mkdir()
    Image.fromarray(synthetic_scan(2, rng, 128)).save(data / "Training" / "no_tumor" / "n.jpg")

    out = tmp_path / "masks"
    assert rebuild_masks(figshare, data, out, splits=("Training",)) == 4
    rows = {row.file: row for row in read_index(out)}
    for number, (class_dir, drawn, _) in enumerate(cases, start=1):
        mask = load_mask(out, f"Training/{class_dir}/s{number}.jpg")
        np.testing.assert_array_equal(mask, tumour_mask(drawn, 128))
        assert rows[f"s{number}.jpg"].figshare_index == number
    assert [row.file for row in label_conflicts(out)] == ["s4.jpg"]


def test_the_bank_built_from_a_masks_folder_finds_each_scan(tmp_path):
    data = write_dataset(tmp_path / "data", {"Training": 2})
    masks = write_masks(data, tmp_path / "masks")
    assert build_outline_bank(data, masks, tmp_path / "bank.npz") == 6  # three tumour classes, two scans each
    bank = OutlineBank.load(tmp_path / "bank.npz")
    scan = data / "Training" / "glioma_tumor" / "0.jpg"
    np.testing.assert_array_equal(bank.get(scan.read_bytes()).mask, load_mask(masks, "Training/glioma_tumor/0.jpg"))
    assert bank.get((data / "Training" / "no_tumor" / "0.jpg").read_bytes()) is None
