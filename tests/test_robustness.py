"""The robustness check end to end on the tiny model, and the sentences and rows made from it."""

import shutil

from model.report.robustness_report import accuracy_curves, robustness_rows, robustness_sentence
from model.schema.card import EVALUATION_FILE
from tests.helpers import write_dataset
from training.evaluation.corruptions import CORRUPTIONS, SEVERITIES
from training.evaluation.evaluate import evaluate
from training.evaluation.robustness import evaluate_robustness


def test_robustness_scores_every_change_and_severity_on_both_subsets(trained, tmp_path):
    _, data, config, _ = trained
    data_copy, artifact = shutil.copytree(data, tmp_path / "data"), shutil.copytree(config.out_dir, tmp_path / "a")
    testing = write_dataset(tmp_path / "t", {"Testing": 2}, seed=5) / "Testing"
    shutil.copytree(testing, data_copy / "Testing")
    scored = evaluate(data_copy, "Testing", artifact, artifact / EVALUATION_FILE)

    report = evaluate_robustness(data_copy, artifact, tmp_path / "robustness.json", sample=6)
    assert scored.leakage_clean is not None
    assert report.scans == {"validation": 6, "testing_leakage_clean": scored.leakage_clean.n}
    for subset in ("validation", "testing_leakage_clean"):
        results = report.results[subset]
        assert set(results.corrupted) == set(CORRUPTIONS) and results.clean.accuracy.value is not None
        assert all(set(results.corrupted[name]) == {str(s) for s in SEVERITIES} for name in CORRUPTIONS)
        curves = accuracy_curves(report, subset)
        assert all(list(curve) == [0, *SEVERITIES] for curve in curves.values())
        assert [row["change"] for row in robustness_rows(report, subset)] == list(CORRUPTIONS)
    assert "validation sample, 6 scans," in robustness_sentence(report)
    again = evaluate_robustness(data_copy, artifact, tmp_path / "again.json", sample=6)
    assert again.results == report.results  # seeded: the same corrupted scans, the same answers
