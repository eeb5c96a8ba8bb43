import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, precision_score

from model.core.predict import calibrated_probabilities
from training.fitting.calibrate import fit_temperature
from training.fitting.metrics import bootstrap_mean_ci, classification_report, reliability

NAMES = ["a", "b", "c", "d"]


@pytest.fixture
def predictions():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4))
    logits[np.arange(300), labels] += 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return labels, probabilities


def test_report_agrees_with_scikit_learn(predictions):
    labels, probabilities = predictions
    predicted = probabilities.argmax(1)
    report = classification_report(labels, probabilities, NAMES)
    assert report["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert report["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert report["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert report["confusion_matrix"] == confusion_matrix(labels, predicted).tolist()
    precision = precision_score(labels, predicted, average=None)
    for i, name in enumerate(NAMES):
        assert report["per_class"][name]["precision"] == pytest.approx(precision[i])
        assert report["per_class"][name]["support"] == int((labels == i).sum())
    low, high = report["accuracy_ci95"]
    assert low < report["accuracy"] < high


def test_ece_is_zero_for_perfectly_confident_correct_predictions():
    labels = np.array([0, 1, 2, 3])
    assert reliability(np.eye(4), labels)["ece"] == pytest.approx(0.0)


def test_ece_of_overconfident_model():
    labels = np.array([0, 1, 0, 1])
    probabilities = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert reliability(probabilities, labels)["ece"] == pytest.approx(0.5)


def test_bootstrap_ci_is_deterministic_and_narrows_with_n():
    small = bootstrap_mean_ci(np.array([1.0, 0.0] * 10), seed=3)
    assert small == bootstrap_mean_ci(np.array([1.0, 0.0] * 10), seed=3)
    large = bootstrap_mean_ci(np.array([1.0, 0.0] * 500), seed=3)
    assert large[1] - large[0] < small[1] - small[0]


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(scale=2.0, size=(4000, 4))
    probabilities = calibrated_probabilities(true_logits, 1.0)
    labels = np.array([rng.choice(4, p=p) for p in probabilities])
    assert fit_temperature(true_logits * 3.0, labels) == pytest.approx(3.0, rel=0.1)


def test_paired_comparison_matches_a_hand_computed_mcnemar_table():
    from model.report.evaluation_report import paired_comparison

    labels = np.zeros(20, int)
    ours = np.array([0] * 12 + [1] * 8)  # right on the first 12
    theirs = np.array([0] * 6 + [1] * 6 + [0] * 2 + [1] * 6)  # right on 0-5 and 12-13
    result = paired_comparison(labels, ours, theirs)
    assert (result.only_ours_right, result.only_theirs_right) == (6, 2)
    assert result.mcnemar_p == pytest.approx(0.2890625)  # exact two-sided binomial, 8 discordant pairs
    assert result.difference == pytest.approx(0.2)
    low, high = result.difference_ci95
    assert low < 0.2 < high


def test_one_vs_rest_matches_scikit_learn_and_hand_counts():
    from sklearn.metrics import roc_auc_score

    from training.fitting.metrics import one_vs_rest

    truth = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    predicted = np.array([1, 1, 0, 1, 0, 0, 0, 0], bool)
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.4, 0.05])
    result = one_vs_rest(truth, predicted, scores)
    assert result["sensitivity"]["value"] == pytest.approx(2 / 3) and result["specificity"]["value"] == 0.8
    assert result["ppv"]["value"] == pytest.approx(2 / 3) and result["npv"]["value"] == 0.8
    low, high = result["sensitivity"]["ci95"]
    assert 0 < low < 2 / 3 < high < 1
    assert result["roc_auc"] == pytest.approx(roc_auc_score(truth, scores))
    assert result["roc_curve"]["fpr"][0] == 0 and result["roc_curve"]["tpr"][-1] == 1


def test_the_cluster_bootstrap_widens_the_interval_when_copies_are_counted_once_each():
    from training.fitting.metrics import bootstrap_mean_ci

    values = np.repeat(np.random.default_rng(0).random(20) < 0.6, 10).astype(float)  # 20 scans, 10 copies each
    naive = bootstrap_mean_ci(values)
    clustered = bootstrap_mean_ci(values, groups=np.repeat(np.arange(20), 10))
    assert clustered[1] - clustered[0] > 2 * (naive[1] - naive[0])


def test_a_class_with_no_scans_is_left_out_of_macro_f1():
    from training.fitting.metrics import classification_report

    labels = np.array([0, 0, 1, 1])
    probabilities = np.eye(3)[[0, 0, 1, 1]]
    report = classification_report(labels, probabilities, ["a", "b", "c"])
    assert report["macro_f1"] == 1.0 and report["per_class"]["c"]["support"] == 0
