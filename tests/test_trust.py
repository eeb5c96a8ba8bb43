from dataclasses import replace

import numpy as np
import pytest

from model.core.scan_type import ScanType
from model.core.trust import (
    MIN_KEPT_ACCURACY,
    REFER_ALL,
    Reason,
    Trust,
    accurate_referral_threshold,
    conformal_quantile,
    conformity_scores,
    kept_accuracy_bound,
    mondrian_fit,
    prediction_set,
    referral_threshold,
)
from model.report.trust_report import RANKINGS, reason_text
from model.schema.records import ScanTypeThresholds
from training.fitting.trust import Scored, certainties, coverage_curve, decisions, held_out, summary, unseen_sources


def scored(probabilities, labels, types=None, groups=None) -> Scored:
    n = len(labels)
    types = np.array(["T1"] * n) if types is None else types
    groups = np.array(["g"] * n) if groups is None else groups
    return Scored(probabilities, np.zeros(n), labels, types, groups, np.zeros(n, bool))


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
    sets = [prediction_set(p, qhat) for p in probabilities[2000:]]
    row = summary(scored(probabilities[2000:], labels[2000:]), sets, np.zeros(2000, bool))
    assert row["coverage"] >= 0.88 and 1 <= row["mean_size"] <= 4


def test_referral_keeps_the_confident_scans_and_the_curve_starts_at_full_coverage():
    probabilities = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8], [0.6, 0.4]])
    labels = np.array([0, 1, 1, 0])
    threshold = referral_threshold(probabilities.max(1), 0.25)
    trust = Trust(qhat=0.9, referral_threshold=threshold)
    row = summary(scored(probabilities, labels), *decisions(trust, scored(probabilities, labels)))
    assert row["accuracy_all"] == 0.75 and row["accuracy_kept"] == 1.0
    assert trust.decide_for(np.array([0.55, 0.45]), "T1").reason == Reason.LOW_CONFIDENCE
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

    from model.schema.card import TRUST_FILE, read_record

    (tmp_path / TRUST_FILE).write_text(json.dumps({"schema_version": 2, "coverage_curves": {"validation": []}}))
    assert read_record(tmp_path / TRUST_FILE, TRUST_FILE)["coverage_curves"] == {"confidence": {"validation": []}}


def test_mondrian_sets_are_fitted_per_scan_type_and_unvalidated_types_get_every_class_and_referral():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 400)
    sharp = np.full((200, 4), 0.01)
    sharp[np.arange(200), labels[:200]] = 0.97
    vague = rng.dirichlet(np.ones(4), 200)
    probabilities = np.concatenate([sharp, vague])
    types = np.array(["T1"] * 200 + ["T2"] * 200)
    fitted = mondrian_fit(probabilities, labels, types)
    assert fitted["T1"].qhat < fitted["T2"].qhat and fitted["T1"].n == 200
    trust = Trust(0.5, 0.5, fitted)
    assert len(trust.decide_for(sharp[0], "T1").members) == 1 and len(trust.decide_for(vague[0], "T2").members) >= 2
    unvalidated = trust.decide_for(sharp[0], "FLAIR stripped")
    assert unvalidated.reason == Reason.UNVALIDATED and len(unvalidated.members) == 4


def test_a_type_with_too_few_validation_scans_is_unvalidated_whatever_its_confidence():
    labels = np.zeros(29, int)
    sure = np.tile([0.999, 0.001 / 3, 0.001 / 3, 0.001 / 3], (29, 1))
    trust = Trust(0.5, 0.5, mondrian_fit(sure, labels, np.array(["T1C+ stripped axial"] * 29)))
    stripped = ScanType("T1C+", 0.9, True, 0.99)
    decision = trust.decide(sure[0], stripped)
    assert decision.referred and decision.reason == Reason.UNVALIDATED and decision.members[0] == 0
    assert "not validated" in reason_text(decision)


def test_a_confident_answer_referred_by_its_type_never_reads_low_confidence():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, 100)
    probabilities = np.full((100, 4), 0.002)
    predicted = np.where(rng.random(100) < 0.5, labels, (labels + 1) % 4)  # right half of the time
    probabilities[np.arange(100), predicted] = 0.99 + 0.004 * rng.random(100)
    trust = Trust(0.5, 0.5, mondrian_fit(probabilities, labels, np.array(["T2"] * 100)))
    least = probabilities[probabilities.max(1).argmin()]
    decision = trust.decide_for(least, "T2")
    assert decision.reason == Reason.OFTEN_WRONG and decision.figure == pytest.approx(trust.by_type["T2"].accuracy)
    assert "low confidence" not in reason_text(decision) and "often misclassified" in reason_text(decision)
    assert Trust(0.5, 0.5, {}).decide_for(least, "T2").reason is None  # pooled: kept


def test_the_referral_threshold_rises_until_the_scans_kept_are_right_often_enough():
    confidences = np.linspace(0.3, 1.0, 100)
    right = confidences > 0.6  # everything under 0.6 is wrong
    threshold = accurate_referral_threshold(confidences, right)
    kept = confidences >= threshold
    assert right[kept].mean() >= MIN_KEPT_ACCURACY and threshold > referral_threshold(confidences)


def test_a_type_whose_kept_scans_reach_the_target_only_on_average_is_referred_whole():
    """Thirty scans right 29 times (97 %, the wrong one the most confident) clear 90 % on average, not
    by the lower bound: nothing of the type is kept."""
    confidences = np.linspace(0.5, 0.99, 30)
    right = np.ones(30, bool)
    right[-1] = False
    assert accurate_referral_threshold(confidences, right) > 1.0
    assert accurate_referral_threshold(confidences, np.ones(30, bool)) <= confidences.max()


def test_the_kept_accuracy_bound_is_clopper_pearson():
    bound = kept_accuracy_bound(np.array([0, 30, 95]), np.array([10, 30, 100]))
    assert bound[0] == 0.0 and bound[1] == pytest.approx(0.05 ** (1 / 30))
    assert 0.89 < bound[2] < 0.95


def leaning_right(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of a model that leans towards the true class: Dirichlet noise plus one on it."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    probabilities = rng.dirichlet(np.ones(4), n)
    probabilities[np.arange(n), labels] += 1
    return labels, probabilities / probabilities.sum(1, keepdims=True)


def test_held_out_groups_are_scored_with_sets_fitted_on_the_other_half():
    labels, probabilities = leaning_right(2)
    groups = np.array(["a", "b", "c"] * 100)
    rows = held_out(
        scored(probabilities, labels, groups=groups), np.arange(300) // 2, seed=0, by=groups, worst_source=False
    )
    assert set(rows) == {"a", "b", "c"} and sum(r["n"] for r in rows.values()) == 300
    assert all(r["coverage"] >= 0.85 for r in rows.values())


def test_each_source_is_scored_with_sets_fitted_on_the_other_sources_only():
    labels, probabilities = leaning_right(3)
    groups = np.array(["sartaj", "lgg-dev/T1", "lgg-dev/T1 skull-stripped by us"] * 100)
    types = np.where(np.arange(300) % 3 == 0, "T1 axial", "T2 axial")  # sartaj alone holds every T1
    views = replace(scored(probabilities, labels, types, groups), rendered=np.char.endswith(groups, "by us"))
    rows = unseen_sources(views, worst_source=True)
    assert set(rows) == {"sartaj", "lgg-dev"} and rows["sartaj"]["n"] == rows["lgg-dev"]["n"] == 100
    assert rows["sartaj"]["referred_share"] == 1.0  # no other source validated its type: every answer referred


def test_a_type_right_often_on_too_few_scans_to_vouch_for_is_referred_as_not_validated():
    """Its answers are all referred (the bound is not met), in words that do not call a 95 % type often wrong."""
    fitted = ScanTypeThresholds(40, 0.5, REFER_ALL, accuracy=0.95)
    decision = Trust(0.5, 0.5, {"FLAIR": fitted}).decide_for(np.array([0.97, 0.01, 0.01, 0.01]), "FLAIR")
    assert decision.reason == Reason.UNVALIDATED and "often misclassified" not in reason_text(decision)


def test_the_worst_source_rule_refers_as_much_as_the_worst_source_needs():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 4, 200)
    probabilities = np.full((200, 4), 0.02)
    wrong = np.arange(200) >= 100  # the second source: less confident, and wrong half of the time
    predicted = np.where(wrong & (rng.random(200) < 0.5), (labels + 1) % 4, labels)
    probabilities[np.arange(200), predicted] = np.where(wrong, 0.8, 0.95) + 0.04 * rng.random(200)
    types, sources = np.array(["T2 axial"] * 200), np.where(wrong, "b", "a")
    pooled = mondrian_fit(probabilities, labels, types)["T2 axial"]
    worst = mondrian_fit(probabilities, labels, types, sources=sources)["T2 axial"]
    assert worst.referral_threshold > pooled.referral_threshold and worst.qhat >= pooled.qhat
    alone = mondrian_fit(probabilities[wrong], labels[wrong], types[wrong])["T2 axial"]
    assert worst.referral_threshold == alone.referral_threshold and worst.qhat == alone.qhat
