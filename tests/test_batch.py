import csv

from model.core.archive import classify_locally
from model.core.batch import find_scans


def test_folder_to_csv_keeps_going_past_bad_files(tiny_classifier, synthetic_dataset, tmp_path):
    folder = synthetic_dataset / "Testing"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.jpg").write_bytes(b"not an image")
    count = classify_locally(tiny_classifier, [folder, tmp_path / "bad" / "broken.jpg"], tmp_path / "out.csv")
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert count == len(rows) == len(find_scans([folder])) + 1
    broken = [r for r in rows if r["file"].endswith("broken.jpg")][0]
    assert broken["error"] and not broken["prediction"]
    good = [r for r in rows if not r["error"]]
    assert all(r["prediction"] in tiny_classifier.card.class_names for r in good)
    assert all(abs(sum(float(r[f"p({n})"]) for n in tiny_classifier.card.class_names) - 1) < 1e-3 for r in good)
