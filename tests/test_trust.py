import numpy as np
import pytest

from model.trust import Trust, conformal_quantile, conformity_scores, prediction_set, referral_threshold
from training.trust import coverage_curve, referral_summary, set_summary


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
    curve = coverage_curve(probabilities, labels, points=5)
    assert curve[0] == {"kept_share": 1.0, "accuracy": 0.75} and curve[-1]["accuracy"] == 1.0
