"""Rows and sentences of the Testing evaluation and the dataset audit, for the pages and the README alike.

The JSON files are written by `python -m training evaluate` and `audit`; the wording of what they say lives here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy.stats import binomtest

from model.i18n import N_, _, number, pct, significant
from model.schema.records import Audit, Candidates, Evaluation, GroupRescore, GuardEvaluation, ScoredScan
from model.schema.tables import ClassificationScores, Interval, Proportion

SUBSETS = {
    "full": N_("whole split"),
    "leakage_clean": N_("leakage-clean (new scans)"),
    "leaked_copies": N_("copies of training scans"),
}


def accuracy_with_ci(subset: ClassificationScores | None) -> str:
    if subset is None:
        return "–"
    low, high = subset.accuracy_ci95
    return f"{pct(subset.accuracy)} ({pct(low)}–{pct(high)})"


def subset_rows(report: Evaluation) -> list[dict[str, Any]]:
    """One row per Testing subset: images, accuracy with its 95 % CI, balanced accuracy, macro F1, ECE (a subset
    the split has no scans of is left out)."""
    return [
        {
            _("Testing subset"): _(label),
            _("images"): scores.n,
            _("accuracy (95 % CI)"): accuracy_with_ci(scores),
            _("balanced acc."): "–" if scores.balanced_accuracy is None else pct(scores.balanced_accuracy),
            _("macro F1"): pct(scores.macro_f1),
            _("ECE"): number(scores.calibration.ece, 3),
        }
        for key, label in SUBSETS.items()
        if (scores := report.subset(key)) is not None
    ]


def clean_composition(report: Evaluation) -> str:
    """What the leakage-clean subset holds, class by class: a class with no scans there has no recall there, and
    macro figures leave it out."""
    counts = ", ".join(
        f"{count.images - count.leaked} {_(name).lower()}" for name, count in report.leakage_counts.items()
    )
    return _(
        "The leakage-clean subset holds {counts}; a class with no scans shows “–”, and macro figures (balanced "
        "accuracy, macro F1) leave it out. Confidence intervals resample groups of near-duplicate scans, not scans."
    ).format(counts=counts)


def _with_ci(measure: Proportion) -> str:
    if measure.value is None or measure.ci95 is None:
        return "–"
    low, high = measure.ci95
    return f"{pct(measure.value)} ({pct(low, 0)}–{pct(high, 0)})"


def one_vs_rest_rows(subset: ClassificationScores) -> list[dict[str, Any]]:
    """Each class against the others: what a screening reader asks (Wilson 95 % CIs), and the curves' areas."""
    return [
        {
            _("class"): _(name),
            _("sensitivity"): _with_ci(values.sensitivity),
            _("specificity"): _with_ci(values.specificity),
            _("PPV"): _with_ci(values.ppv),
            _("NPV"): _with_ci(values.npv),
            _("ROC AUC"): "–" if values.roc_auc is None else number(values.roc_auc, 3),
            _("average precision"): "–" if values.average_precision is None else number(values.average_precision, 3),
        }
        for name, values in subset.one_vs_rest.items()
    ]


def per_class_rows(subset: ClassificationScores) -> list[dict[str, Any]]:
    return [
        {
            _("class"): _(name),
            _("precision"): pct(values.precision),
            _("recall"): pct(values.recall) if values.support else "–",  # no scans of the class: no recall
            _("F1"): pct(values.f1) if values.support else "–",
            _("support"): values.support,
        }
        for name, values in subset.per_class.items()
    ]


def label_conflict_sentence(report: Evaluation) -> str:
    """Testing accuracy without the scans whose class figshare's radiologists label otherwise ('' when unscored)."""
    without = report.without_label_conflicts
    if not without:
        return ""
    return _(
        "{conflicts} Testing scans carry a class that the figshare dataset, where radiologists outlined each tumour, "
        "labels otherwise (see Dataset). Without them, accuracy on the whole split is {accuracy} over {n} scans."
    ).format(conflicts=report.label_conflicts, accuracy=accuracy_with_ci(without), n=without.n)


def audit_sentence(audit: Audit) -> str:
    """How much of Testing copies Training, and how much Training copies itself."""
    summary, training = audit.summary, audit.splits["Training"]
    return _(
        "**{leaked} of {images} Testing scans are copies of Training scans** ({exact} byte-identical; rule: "
        "byte-identical or pHash Hamming distance <= {distance}); only {clean} are new. Inside Training, {grouped} "
        "scans fall into {groups} groups of near duplicates, which is why the validation split keeps each group on "
        "one side."
    ).format(
        leaked=summary.testing_leaked,
        images=summary.testing_images,
        exact=summary.testing_exact_copies,
        distance=audit.near_duplicate_rule.rsplit(" ", 1)[-1],
        clean=summary.testing_leakage_clean,
        grouped=training.images_in_near_groups,
        groups=training.near_duplicate_groups,
    )


@dataclass(frozen=True)
class PairedComparison:
    n: int
    difference: float  # accuracy, ours minus theirs
    difference_ci95: Interval  # paired bootstrap
    only_ours_right: int
    only_theirs_right: int
    mcnemar_p: float  # exact, on the scans only one of the two gets right


def paired_comparison(
    labels: np.ndarray, ours: np.ndarray, theirs: np.ndarray, resamples: int = 2000, seed: int = 0
) -> PairedComparison:
    """Two models on the same scans: accuracy difference with a paired bootstrap 95 % CI, and McNemar's exact
    test on the scans where exactly one of them is right."""
    right_ours, right_theirs = ours == labels, theirs == labels
    only_ours, only_theirs = int((right_ours & ~right_theirs).sum()), int((right_theirs & ~right_ours).sum())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(labels), size=(resamples, len(labels)))
    differences = right_ours[picks].mean(1) - right_theirs[picks].mean(1)
    discordant = only_ours + only_theirs
    return PairedComparison(
        n=int(len(labels)),
        difference=float(right_ours.mean() - right_theirs.mean()),
        difference_ci95=(float(np.percentile(differences, 2.5)), float(np.percentile(differences, 97.5))),
        only_ours_right=only_ours,
        only_theirs_right=only_theirs,
        mcnemar_p=float(binomtest(only_ours, discordant).pvalue) if discordant else 1.0,
    )


PAIRED_INTRO = N_(
    "Paired comparisons on the same Testing scans: the shipped model against each candidate whose predictions "
    "are recorded (candidates as Keras models). The difference in accuracy has a paired bootstrap 95 % CI; "
    "McNemar's exact test counts the scans only one of the two gets right (shipped vs the other); a p-value "
    "far above 0.05 means the difference is within noise."
)


CANDIDATE_NAMES = {
    "frozen_backbone_head": N_("new head only, backbone frozen"),
    "finetuned_exit_flow": N_("exit flow fine-tuned, best epoch"),
    "epoch_averaged": N_("exit flow fine-tuned, epochs averaged"),
    "weight_interpolated": N_("mix of head-only and fine-tuned weights"),
    "starting_model": N_("the model the run started from"),
}


def candidate_name(name: str) -> str:
    """A candidate's plain name in the visitor's language (an unknown one as it is, underscores as spaces)."""
    return _(CANDIDATE_NAMES[name]) if name in CANDIDATE_NAMES else name.replace("_", " ")


def comparison_rows(
    report: Evaluation, candidates: Candidates, served: Callable[[str], bool] | None = None
) -> list[dict[str, str]]:
    """The shipped model against every other candidate whose Testing predictions are recorded, whole and
    leakage-clean: one row per distinct weights file (`served` tells the shipped model's own SHA-256s)."""
    images = report.images
    labels, ours = np.array([r.label for r in images]), np.array([r.predicted for r in images])
    clean = np.array([not r.leaked for r in images])
    is_served = served or (lambda sha: sha == report.artifact_sha256)
    rows, seen = [], set()
    for run, scored in candidates.runs.items():
        for name, values in scored.items():
            if is_served(values.artifact_sha256) or values.testing_predictions is None:
                continue
            if values.testing_paths_sha256 != paths_digest(images) or values.artifact_sha256 in seen:
                continue
            seen.add(values.artifact_sha256)
            theirs = np.array(values.testing_predictions)
            row = {_("against"): f"{run}, {candidate_name(name)}"}
            for label, keep in ((N_("whole"), np.ones(len(labels), bool)), (N_("leakage-clean"), clean)):
                c = paired_comparison(labels[keep], ours[keep], theirs[keep])
                low, high = c.difference_ci95
                row[_("{subset}: shipped minus it (95 % CI)").format(subset=_(label))] = _(
                    "{d} ({low} to {high})"
                ).format(d=pct(c.difference, signed=True), low=pct(low, signed=True), high=pct(high, signed=True))
                row[_("{subset}: McNemar p").format(subset=_(label))] = _("{p} ({ours} vs {theirs})").format(
                    p=significant(c.mcnemar_p), ours=c.only_ours_right, theirs=c.only_theirs_right
                )
            rows.append(row)
    return rows


def paths_digest(images: list[ScoredScan]) -> str:
    """Which scans, in which order, a list of per-scan predictions refers to."""
    return hashlib.sha256("\n".join(row.path for row in images).encode()).hexdigest()


def guard_sentence(guard: GuardEvaluation) -> str:
    """What the not-an-MRI guard catches and what it costs, from `python -m training ood`."""
    in_split, held_out = guard.in_distribution, guard.per_part["held-out"]
    return _(
        "Not-a-brain-MRI guard (on the network's frozen layers, so fine-tuning does not move it): AUROC **{auroc}** "
        "between the {scans} Testing scans and {others} non-MRI images; it flags {flagged} of Testing scans and "
        "detects {detected} of the non-MRI images, {held_out} of the {held_out_n} it was never designed on "
        "(screenshots of this app, web pages, documents, charts, ultrasound and CT-like pictures). Its threshold lies "
        "halfway between the highest validation scan and the lowest design non-MRI image (`python -m training ood`)."
    ).format(
        auroc=number(guard.auroc, 3),
        scans=in_split.images,
        others=guard.out_of_distribution.images,
        flagged=pct(in_split.false_alarm_rate),
        detected=pct(guard.out_of_distribution.detection_rate),
        held_out=pct(held_out.detection_rate),
        held_out_n=held_out.images,
    )


GROUPS_INTRO = N_(
    "Validation scans of each source and sequence, held out by case group. Per group: accuracy · "
    "tumour-vs-no-tumour sensitivity · loss at a temperature fitted on that group. A model replaces the shipped one "
    "when its worst group's loss is lower (the owner's rule, with no other condition)."
)


def group_rows(report: GroupRescore, shipped: Callable[[str], bool]) -> list[dict[str, str]]:
    """One row per rescored artifact: per validation group (source x sequence) accuracy, tumour-vs-no-tumour
    sensitivity and loss at its fitted temperature; the worst group's loss (the rule) and the verdict."""
    rows = []
    for row in report.rows:
        cells = {
            _("model"): f"{row.run}, {candidate_name(row.candidate)}"
            + (_(" (served)") if shipped(row.artifact_sha256) else ""),
            _("trained on"): ", ".join(row.trained_on),
        }
        for group, scores in row.groups.items():
            sensitivity = "–" if scores.tumour_sensitivity is None else pct(scores.tumour_sensitivity, 0)
            cells[f"{group} (n = {scores.n})"] = (
                f"{pct(scores.accuracy, 0)} · {sensitivity} · {number(scores.nll_at_fitted_temperature, 3)}"
            )
        cells[_("worst-group loss")] = f"{number(row.worst_group_nll, 3)} ({row.worst_group})"
        cells[_("mean over groups")] = "–" if row.mean_group_nll is None else number(row.mean_group_nll, 3)
        verdict = row.beats_shipped
        cells[_("beats the shipped model")] = "–" if verdict is None else (_("yes") if verdict else _("no"))
        rows.append(cells)
    return rows


def better_on_testing_sentence(report: Evaluation, candidates: Candidates) -> str:
    """Names every candidate not shipped that scored higher on Testing than the shipped model, and says why it is
    not shipped: Testing chooses nothing, or its figure would stop meaning anything."""
    if report.leakage_clean is None:
        return ""
    shipped = report.leakage_clean.accuracy
    higher = [
        f"{run}, {candidate_name(name)} ({pct(values.leakage_clean)})"
        for run, scored in candidates.runs.items()
        for name, values in scored.items()
        if values.artifact_sha256 != report.artifact_sha256 and values.leakage_clean > shipped
    ]
    if not higher:
        return ""
    return _(
        "Candidates that scored higher than the shipped model ({shipped}) on the leakage-clean Testing scans: "
        "{higher}. They are not shipped for that reason: each was scored on Testing once, after the choice, which "
        "was made on validation; choosing by Testing would make its figure mean nothing."
    ).format(shipped=pct(shipped), higher="; ".join(higher))
