"""The nested tables of the result files: JSON read into typed dataclasses, checked on the way."""

import pytest

from model.errors import ArtifactError
from model.schema.tables import Calibration, ClassificationScores, Proportion, typed


def test_json_numbers_and_lists_become_the_declared_types():
    measure = typed(Proportion, {"value": 1, "ci95": [0, 1]}, "x.json")
    assert measure == Proportion(1.0, (0.0, 1.0)) and isinstance(measure.value, float)
    empty = typed(Proportion, {"value": None, "ci95": None}, "x.json")
    assert empty.value is None and empty.ci95 is None


def test_a_wrong_type_deep_inside_is_refused_naming_the_file_and_the_field():
    bins = [{"low": 0.0, "high": 0.5, "count": "three", "accuracy": None, "confidence": None}]
    with pytest.raises(ArtifactError, match=r"x\.json does not follow its schema: .*bins\.count"):
        typed(Calibration, {"ece": 0.1, "bins": bins}, "x.json")
    with pytest.raises(ArtifactError, match="ci95"):
        typed(Proportion, {"value": 0.5, "ci95": "0.1-0.9"}, "x.json")


def test_unknown_keys_are_refused_only_when_strict():
    data = {"value": 0.5, "ci95": [0.1, 0.9], "note": "?"}
    assert typed(Proportion, data, "x.json").value == 0.5
    with pytest.raises(ArtifactError, match='can not match "note"'):
        typed(Proportion, data, "x.json", strict=True)


def test_a_classification_report_without_one_vs_rest_reads_with_none():
    report = {
        "n": 2,
        "accuracy": 0.5,
        "accuracy_ci95": [0.0, 1.0],
        "balanced_accuracy": None,
        "macro_f1": 0.5,
        "per_class": {"Glioma": {"precision": 1, "recall": 0.5, "f1": 0.67, "support": 2}},
        "confusion_matrix": [[1, 1], [0, 0]],
        "calibration": {"ece": 0.0, "bins": []},
    }
    scores = typed(ClassificationScores, report, "card")
    assert scores.one_vs_rest == {} and scores.per_class["Glioma"].precision == 1.0
