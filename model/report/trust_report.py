"""The trust layer in words: set labels, the caveat under every result, and the trust tables (model.core.trust)."""

from __future__ import annotations

from typing import Callable

from model.core.predict import Classified
from model.core.trust import MIN_KEPT_ACCURACY, Decision, Reason
from model.i18n import N_, SOURCE_LANGUAGE, _, language, number, pct
from model.report.scan_type_report import key_name
from model.report.series_report import NOT_MR_FLAG
from model.schema.records import GroupTrust, TrustEvaluation

# Selective prediction ranks scans by one of these, most certain first (training/fitting/trust.py computes each).
RANKINGS = (N_("confidence"), N_("margin"), N_("guard score"))


RANKING_HELP = N_(
    "Confidence: the top calibrated probability. Margin: the top probability minus the runner-up's. Guard score: "
    "how typical the scan looks to the not-an-MRI guard (its distance to the training scans, smallest first)."
)


def set_label(report: TrustEvaluation) -> str:
    """The column and line label of a prediction set, e.g. "90 % set"."""
    level = pct(1 - report.alpha, 0)
    return _("{level} set").format(level=level.replace("%", " %") if language() == SOURCE_LANGUAGE else level)


def caveat(report: TrustEvaluation) -> str:
    """How far the sets and the confidence carry to scans from other sources, from the committed trust check."""
    sets, referral = report.sets, report.referral
    clean, clean_referral = sets["testing_leakage_clean"], referral["testing_leakage_clean"]
    values = {
        "level": pct(1 - report.alpha, 0),
        "validation": pct(sets["validation"].coverage, 0),
        "n": clean.n,
        "clean": pct(clean.coverage, 0),
        "size": number(clean.mean_size, 1),
        "threshold": pct(report.referral_threshold, 0),
        "share": pct(report.referred_share_on_validation, 0),
        "accurate": pct(MIN_KEPT_ACCURACY, 0),
        "referred": pct(clean_referral.referred_share, 0),
        "kept": "–" if clean_referral.accuracy_kept is None else pct(clean_referral.accuracy_kept, 0),
        "all": pct(clean_referral.accuracy_all, 0),
    }
    if report.mondrian:
        return _(
            "The {level} sets and the referral thresholds are fitted for each scan type on validation scans of every "
            "source, where the sets held the true class for {validation}; on new test scans from another source "
            "(the leakage-clean subset, {n} scans) they held it for {clean}, with {size} classes on average. Each "
            "type refers at least its least certain {share} of validation scans, more until the rest is {accurate} "
            "right: on the new test scans {referred} were referred, and the model was right on {kept} of the rest "
            "(all: {all})."
        ).format(**values)
    return _(
        "The {level} sets are fitted on validation scans, where they held the true class for {validation}; on new "
        "test scans from other sources (the leakage-clean subset, {n} scans) they held it for only {clean}, with "
        "{size} classes on average. Scans below {threshold} confidence (the least certain {share} of validation) are "
        "marked for referral: on the new test scans, {referred} were, and the model was right on {kept} of the rest "
        "(all: {all})."
    ).format(**values)


TRUST_SUBSETS = {
    "validation": N_("validation (fitted here)"),
    "testing": N_("Testing, whole split"),
    "testing_leakage_clean": N_("Testing, leakage-clean (new scans)"),
}


def trust_rows(report: TrustEvaluation) -> list[dict[str, str]]:
    """One row per subset: the sets' coverage and size, and what the referral threshold does."""
    rows = []
    for key, label in TRUST_SUBSETS.items():
        sets, referral = report.sets[key], report.referral[key]
        rows.append(
            {
                _("scans"): _(label),
                _("images"): str(sets.n),
                _("{label} coverage").format(label=set_label(report)): pct(sets.coverage),
                _("mean set size"): number(sets.mean_size, 2),
                _("referred"): pct(referral.referred_share),
                _("accuracy on the rest"): "–" if referral.accuracy_kept is None else pct(referral.accuracy_kept),
                _("accuracy on all"): pct(referral.accuracy_all),
            }
        )
    return rows


def group_rows(report: TrustEvaluation, by_type: bool = False) -> list[dict[str, str]]:
    """Per validation group (source x sequence), or per scan type with `by_type`, on held-out halves: the sets'
    coverage and size, and referral."""
    if by_type:
        return _held_out_rows(report, report.types, _("scan type"), key_name)
    return _held_out_rows(report, report.groups, _("group"), str)


UNSEEN_SOURCES = N_(
    "At a source the fit never saw (each source's validation scans, with the sets and referral fitted on the other "
    "sources' validation scans only), the stand-in for a hospital the model has not met:"
)


def unseen_source_rows(report: TrustEvaluation) -> list[dict[str, str]]:
    """Per source, the sets and referral fitted on the other sources only: how they hold at an unseen hospital."""
    return _held_out_rows(report, report.unseen_sources, _("source"), str)


def _held_out_rows(
    report: TrustEvaluation, table: dict[str, GroupTrust], first: str, name: Callable[[str], str]
) -> list[dict[str, str]]:
    return [
        {
            first: name(key),
            _("images"): str(row.n),
            _("{label} coverage").format(label=set_label(report)): pct(row.coverage),
            _("mean set size"): number(row.mean_size, 2),
            _("referred"): pct(row.referred_share),
            _("accuracy on the rest"): "–" if row.accuracy_kept is None else pct(row.accuracy_kept),
        }
        for key, row in table.items()
    ]


REASONS = {
    Reason.NOT_MRI: N_("not like a training MRI"),
    Reason.UNVALIDATED: N_("not validated on this kind of scan: refer"),
    Reason.OFTEN_WRONG: N_("this kind of scan is often misclassified ({figure} right): refer"),
    Reason.LOW_CONFIDENCE: N_("low confidence ({figure}): refer"),
}


def reason_text(decision: Decision) -> str:
    """Why an answer is referred, with the figure that fits it; "" when it is not."""
    if decision.reason is None:
        return ""
    figure = "" if decision.figure is None else pct(decision.figure, 0)
    return _(REASONS[decision.reason]).format(figure=figure)


def check_words(result: Classified, decision: Decision | None) -> str:
    """The check column of the Classify page and the PDF's list: why to be careful, in words that fit the numbers
    beside them; an input unlike a training MRI gets that reason only."""
    if result.prediction.out_of_distribution:
        return _(REASONS[Reason.NOT_MRI])
    flags = [_(NOT_MR_FLAG)] if result.info.not_mr else []
    if decision is not None and decision.referred:
        flags.append(reason_text(decision))
    return "; ".join(flags)


SHORT_REASONS = {
    Reason.NOT_MRI: N_("not like a training MRI"),
    Reason.UNVALIDATED: N_("not validated on this kind of scan"),
    Reason.OFTEN_WRONG: N_("a kind of scan often misclassified"),
    Reason.LOW_CONFIDENCE: N_("low confidence"),
}


def referrals_summary(decisions: list[Decision]) -> str:
    """A series or volume in one line: how many slices are referred and why; said once when every slice is of a
    kind the model was not validated on. "" when none is referred."""
    reasons = [d.reason for d in decisions if d.reason is not None]
    if not reasons:
        return ""
    if len(reasons) == len(decisions) and set(reasons) == {Reason.UNVALIDATED}:
        return _("Not validated on this kind of scan: every slice is referred.")
    counts = ", ".join(f"{reasons.count(reason)} {_(SHORT_REASONS[reason])}" for reason in Reason if reason in reasons)
    return _("Referred: {k} of {n} ({counts}).").format(k=len(reasons), n=len(decisions), counts=counts)
