import numpy as np
import pytest

from model.trust import RANKINGS, Trust, conformal_quantile, conformity_scores, prediction_set, referral_threshold
from training.trust import certainties, coverage_curve, referral_summary, set_summary


def test_score_is_one_minus_the_true_class_probability():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])
    np.testing.assert_allclose(conformity_scores(probabilities, np.array([0, 2])), [0.5, 0.8])


def test_conformal_quantile_uses_the_finite_sample_level():
    scores = np.arange(1, 11) / 10  # n = 10, alpha = 0.2: ceil(11 * 0.8) / 10 = 0.9 -> the 9th value
    assert conformal_quantile(scores, alpha=0.2) == pytest.approx(0.9)


def test_prediction_set_holds_the_classes_above_one_minus_the_quantile():
    probabilities = np.array([0.6, 0.1, 0.3])
    assert prediction_set(probabilities, 0.5) == [0]
    assert prediction_set(probabilities, 0.75) == [0, 2]
    assert prediction_set(probabilities, 1.0) == [0, 2, 1]
    assert prediction_set(probabilities, 0.1) == [0]  # never empty


def test_sets_cover_at_least_one_minus_alpha_on_exchangeable_scans():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 4)) * 2
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in probabilities])  # labels drawn from the model itself
    qhat = conformal_quantile(conformity_scores(probabilities[:2000], labels[:2000]), alpha=0.1)
    summary = set_summary(probabilities[2000:], labels[2000:], qhat)
    assert summary["coverage"] >= 0.88 and 1 <= summary["mean_size"] <= 4


def test_referral_keeps_the_confident_scans_and_the_curve_starts_at_full_coverage():
    probabilities = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8], [0.6, 0.4]])
    labels = np.array([0, 1, 1, 0])
    threshold = referral_threshold(probabilities.max(1), 0.25)
    summary = referral_summary(probabilities, labels, threshold)
    assert summary["accuracy_all"] == 0.75 and summary["accuracy_kept"] == 1.0
    assert Trust(qhat=0.9, referral_threshold=threshold).referred(0.55)
    right = probabilities.argmax(1) == labels
    curve = coverage_curve(probabilities.max(1), right, points=5)
    assert curve[0] == {"kept_share": 1.0, "accuracy": 0.75} and curve[-1]["accuracy"] == 1.0


def test_scans_are_ranked_by_confidence_margin_or_guard_score():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.6, 0.4, 0.0], [0.9, 0.05, 0.05]])
    ranked = certainties(probabilities, np.array([10.0, 5.0, 20.0]))
    assert set(ranked) == set(RANKINGS)
    np.testing.assert_allclose(ranked["confidence"], [0.5, 0.6, 0.9])
    np.testing.assert_allclose(ranked["margin"], [0.2, 0.2, 0.85])
    assert list(np.argsort(-ranked["guard score"])) == [1, 0, 2]  # the most typical scan first
    # only the most typical scan is wrong: ranked by guard score, keeping one scan keeps the mistake
    right = np.array([True, False, True])
    assert coverage_curve(ranked["guard score"], right, points=4)[-1]["accuracy"] == 0.0
    assert coverage_curve(ranked["confidence"], right, points=4)[-1]["accuracy"] == 1.0


def test_a_version_2_trust_file_reads_as_confidence_curves(tmp_path):
    import json

    from model.card import TRUST_FILE, read_record

    (tmp_path / TRUST_FILE).write_text(json.dumps({"schema_version": 2, "coverage_curves": {"validation": []}}))
    assert read_record(tmp_path / TRUST_FILE, TRUST_FILE)["coverage_curves"] == {"confidence": {"validation": []}}
