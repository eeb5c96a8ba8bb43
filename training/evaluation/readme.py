"""Renders the README's results section from the committed JSON, so no figure is typed by hand.

`python -m training readme` rewrites the block between the two markers;
tests/test_readme.py fails when the README and the JSON disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.report.evaluation_report import (
    PAIRED_INTRO,
    audit_sentence,
    better_on_testing_sentence,
    clean_composition,
    comparison_rows,
    group_rows,
    guard_sentence,
    label_conflict_sentence,
    one_vs_rest_rows,
    per_class_rows,
    subset_rows,
)
from model.report.robustness_report import ROBUSTNESS_SUBSETS, robustness_rows, robustness_sentence
from model.report.saliency_report import (
    OUTLINE_CITATION,
    by_construction,
    default_method_summary,
    headline,
    sanity_sentence,
    summary_rows,
)
from model.report.scan_type_report import confusion_rows, plane_rows, plane_sentence, scan_type_sentence
from model.report.trust_report import UNSEEN_SOURCES, caveat, trust_rows, unseen_source_rows
from model.report.trust_report import group_rows as trust_group_rows
from model.schema.card import ARTIFACT_DIR, CARD_FILE, ModelCard, load_card
from model.schema.records import (
    Audit,
    Candidates,
    CandidateScore,
    Evaluation,
    GroupRescore,
    GuardEvaluation,
    MethodSummary,
    R,
    Rescore,
    RescoredArtifact,
    RobustnessEvaluation,
    SaliencyEvaluation,
    ScanTypeEvaluation,
    TrustEvaluation,
    load,
)
from model.schema.tables import ClassificationScores, Interval, Localisation

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SPEED_TABLE = ROOT / "benchmarks" / "results.md"  # written by `python -m benchmarks` (which imports this path)
START, END = "<!-- results:start -->", "<!-- results:end -->"
REPRODUCE_START, REPRODUCE_END = "<!-- reproduce:start -->", "<!-- reproduce:end -->"


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _candidate_label(artifact_dir: str) -> str:
    """'run mixup, epoch averaged' for runs/mixup/candidates/epoch_averaged."""
    parts = Path(artifact_dir).parts
    if len(parts) >= 3 and parts[-2] == "candidates":
        return f"run {parts[-3]}, {parts[-1].replace('_', ' ')}"
    return artifact_dir


def _recalls(recall: dict[str, float] | None) -> str:
    return " / ".join(f"{v:.0%}" for v in recall.values()) if recall else "–"


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.0f} min"


def _localisation(value: float | None, ci95: Interval | None) -> str:
    if value is None or ci95 is None:
        return "–"
    low, high = ci95
    return f"{value:.0%} ({low:.0%}–{high:.0%})"


def _markdown_table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    header = list(rows[0])
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(row[column]) for column in header) + " |" for row in rows
    ]


def _served(kind: type[R], artifact_dir: Path) -> R | None:
    """A result file beside the artifact, if it was produced for the weights the card describes."""
    report = load(kind, artifact_dir)
    sha = getattr(report, "artifact_sha256", None)
    return report if report is not None and sha is not None and load_card(artifact_dir).describes(sha) else None


def _saliency_lines(artifact_dir: Path) -> list[str]:
    report = _served(SaliencyEvaluation, artifact_dir)
    if report is None:
        return []
    return [
        "",
        "Do the saliency maps point at the tumour? (`python -m training saliency`, each method explaining the true "
        "class; pointing-game tolerance " + report.pointing_tolerance + "; 95 % bootstrap CIs)",
        "",
        headline(report) + (" " + by_construction(load_card(artifact_dir), load(Candidates, artifact_dir))).rstrip(),
        "",
        *_markdown_table(summary_rows(report)),
        "",
        sanity_sentence(report),
        "",
        f"Score-CAM and SmoothGrad: a seeded subsample of at most "
        f"{report.slow_methods_subsample.max_scans_per_subset} scans per subset. {OUTLINE_CITATION}",
    ]


def _model_lines(card: ModelCard, report: Evaluation) -> list[str]:
    """Which model, trained how and where, and how Testing was scored; the subsets table."""
    timings, machine, onnx = card.timings, card.machine, card.onnx
    if timings is None or machine is None:
        raise ValueError("the shipped model's card lacks its training records (timings, machine)")
    cache = (
        f"(frozen-layer cache built in {(timings.cache_frozen_layers_s or 0) / 60:.1f} min). "
        if timings.cache_images_computed
        else "(frozen-layer cache reused from an earlier run with the same data and settings). "
    )
    export = (
        f" (ONNX export {onnx.bytes / 2**20:.1f} MiB, SHA-256 `{onnx.sha256[:16]}…`, "
        f"max logit difference to Keras {onnx.max_logit_difference_vs_tensorflow:.0e} on probe images)."
        if onnx
        else "."
    )
    return [
        f"Model: `{card.candidate}` trained {card.created[:10]} on {machine.cpu_count} CPU cores "
        f"({machine.cpu}) in **{timings.total_wall_s / 60:.1f} min** end to end "
        + cache
        + f"Artifact SHA-256 `{card.weights_sha256[:16]}…`, {card.weights_bytes / 2**20:.1f} MiB.",
        "",
        f"Testing scored through the app's classification path: {report.runtime}" + export,
        "",
        *_markdown_table(subset_rows(report)),
        "",
        clean_composition(report),
    ]


CANDIDATES_HEADER = [
    "",
    "Every candidate trained so far, as Keras models (validation = duplicate-aware split of Training, which "
    "chose: by accuracy on clean validation views in runs main and long, by loss over all views after them, by the "
    "worst group's loss (table below) in the two-source runs; Testing "
    "scored once per candidate after training, never used to choose):",
    "",
    "| run | candidate | stage-2 epochs | validation accuracy | validation loss, all views | same, after "
    "temperature | Testing accuracy | leakage-clean accuracy | Testing recall G / M / N / P | Grad-CAM pointing "
    "game (validation) | Grad-CAM energy share (validation) | run wall time |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
]
SELECTION_RULE = (
    "Inside a run, the stage-2 end and the interpolation are chosen by validation loss over all views. Between "
    "runs, since the outline experiment (the owner's rule, `training/PREREGISTRATION.md`), a run replaces the "
    "shipped model only when its loss over all validation views **after a temperature fitted to those same "
    "logits** is lower than the shipped model's, rescored on the same frozen-layer cache; earlier runs were "
    "compared at temperature 1 and are not re-shipped retroactively. A candidate that scores higher on Testing "
    "is not shipped for that reason: choosing by Testing would make its Testing score meaningless."
)
GROUP_RULE = (
    "Since the two-source experiment (`training/PREREGISTRATION.md`) every choice inside a run and between runs is "
    "made by the worst validation group's loss after a temperature fitted on that group (groups: Sartaj, and each "
    "other source × sequence, clean views). Since the three-source experiment a run replaces the shipped model "
    "when that figure is lower, with no other condition (the two-source runs also needed Sartaj validation "
    "accuracy within a point, since withdrawn); every row is scored as the app serves it (`python -m training "
    "rescore`). Per group: accuracy · tumour-vs-no-tumour sensitivity · loss at its fitted temperature; the "
    "worst and the mean over groups beside them."
)


def _group_lines(artifact_dir: Path, card: ModelCard) -> list[str]:
    report = load(GroupRescore, artifact_dir)
    if report is None:
        return []
    return ["", GROUP_RULE, ""] + _markdown_table(group_rows(report, card.describes))


def _scan_type_lines(artifact_dir: Path) -> list[str]:
    report = _served(ScanTypeEvaluation, artifact_dir)
    if report is None:
        return []
    intro = "Scan type (`python -m training scan-type`): " + scan_type_sentence(report)
    planes = ["", plane_sentence(report), ""] + _markdown_table(plane_rows(report)) if plane_sentence(report) else []
    return ["", intro, ""] + _markdown_table(confusion_rows(report)) + planes


def _candidate_runs(artifact_dir: Path) -> dict[str, dict[str, CandidateScore]]:
    candidates = load(Candidates, artifact_dir)
    return candidates.runs if candidates else {}


@dataclass(frozen=True)
class ShippedFacts:
    """What the shipped model's own files say, for the rows its training run recorded less of."""

    card: ModelCard
    recall: dict[str, float]
    seconds: float | None
    localisation: dict[str, MethodSummary | Localisation]
    rescored: dict[str, RescoredArtifact]


def _candidate_row(run: str, name: str, values: CandidateScore, shipped: ShippedFacts) -> str:
    """One candidate's README row; the shipped model's own files fill what its run did not record."""
    ours = shipped.card.describes(values.artifact_sha256)
    marker = " (shipped)" if ours else (" (run's choice)" if values.chosen_by_run else "")
    alpha = "" if values.alpha is None else f" (α = {values.alpha:.1f})"
    nll = "–" if values.validation_nll_all_views is None else f"{values.validation_nll_all_views:.4f}"
    recall = shipped.recall if ours and values.testing_recall is None else values.testing_recall
    seconds = shipped.seconds if ours and values.run_wall_s is None else values.run_wall_s
    pointing = values.grad_cam_validation or shipped.localisation.get(values.artifact_sha256)
    row = shipped.rescored.get(values.artifact_sha256)
    fitted = f"{row.nll_all_views_at_fitted_temperature:.4f}" if row else "–"
    hits = "–" if pointing is None else _localisation(pointing.pointing_game, pointing.pointing_game_ci95)
    energy = "–" if pointing is None else _localisation(pointing.energy_share, pointing.energy_share_ci95)
    return (
        f"| {run} | {name.replace('_', ' ')}{alpha}{marker} | {values.finetune_epochs_run} | "
        f"{_pct(values.validation_accuracy)} | {nll} | {fitted} | {_pct(values.full)} | "
        f"{_pct(values.leakage_clean)} | {_recalls(recall)} | {hits} | {energy} | {_minutes(seconds)} |"
    )


def _candidate_rows(artifact_dir: Path, card: ModelCard, full: ClassificationScores) -> list[str]:
    """A table row per candidate of every run."""
    saliency = load(SaliencyEvaluation, artifact_dir)
    shipped = ShippedFacts(
        card,
        {name: v.recall for name, v in full.per_class.items()},
        None if card.timings is None else card.timings.total_wall_s,
        {saliency.artifact_sha256: default_method_summary(saliency)[1]} if saliency else {},
        _rescored(artifact_dir),
    )
    return [
        _candidate_row(run, name, values, shipped)
        for run, scored in _candidate_runs(artifact_dir).items()
        for name, values in scored.items()
    ]


def _rescored(artifact_dir: Path) -> dict[str, RescoredArtifact]:
    rescore = load(Rescore, artifact_dir)
    return {row.artifact_sha256: row for row in rescore.rows} if rescore else {}


def _rescore_lines(artifact_dir: Path, card: ModelCard) -> list[str]:
    """Whether the shipped model has the lowest loss after a fitted temperature of every artifact rescored."""
    rescored = _rescored(artifact_dir)
    if not rescored:
        return []
    best = min(rescored.values(), key=lambda row: row.nll_all_views_at_fitted_temperature)
    shipped_row = next((row for sha, row in rescored.items() if card.describes(sha)), None)
    lowest = best.nll_all_views_at_fitted_temperature
    verdict = ""
    if shipped_row and best is not shipped_row:
        verdict = (
            f" By it the shipped model ({shipped_row.nll_all_views_at_fitted_temperature:.4f}) is not the "
            f"lowest of the runs rescored: {_candidate_label(best.artifact_dir)} scores {lowest:.4f}."
        )
    elif shipped_row:
        verdict = f" By it the shipped model ({lowest:.4f}) is the lowest of the {len(rescored)} artifacts rescored."
    return ["", "Loss after a fitted temperature: `python -m training rescore`." + verdict]


def _trust_guard_and_robustness_lines(artifact_dir: Path) -> list[str]:
    lines = []
    trust = _served(TrustEvaluation, artifact_dir)
    if trust is not None:
        lines += ["", "When to trust an answer (`python -m training trust`): " + caveat(trust), ""]
        lines += _markdown_table(trust_rows(trust))
        if trust.groups:
            lines += ["", "Per validation group, on held-out halves (sets fitted on the other half):", ""]
            lines += _markdown_table(trust_group_rows(trust))
        if trust.unseen_sources:
            lines += ["", UNSEEN_SOURCES, ""] + _markdown_table(unseen_source_rows(trust))
    guard = _served(GuardEvaluation, artifact_dir)
    if guard is not None:
        lines += ["", guard_sentence(guard)]
    robustness = _served(RobustnessEvaluation, artifact_dir)
    if robustness is not None:
        lines += ["", "`python -m training robustness`: " + robustness_sentence(robustness)]
        for subset, label in ROBUSTNESS_SUBSETS.items():
            lines += ["", f"Accuracy by severity, {label}:", ""] + _markdown_table(robustness_rows(robustness, subset))
    return lines


def render(artifact_dir: Path = ARTIFACT_DIR) -> str:
    """The README's results section, section by section, from the committed JSON."""
    card = load_card(artifact_dir) if (artifact_dir / CARD_FILE).exists() else None
    report = _served(Evaluation, artifact_dir)
    lines = [START, "", "_Generated by `python -m training readme` from the JSON files in `model/artifacts/`._", ""]
    if card is None or report is None:
        return "\n".join(lines + ["No committed model yet.", "", END])
    audit = load(Audit, artifact_dir)
    if audit is not None:
        lines += [f"Dataset audit (`python -m training audit`): {audit_sentence(audit)}", ""]
    lines += _model_lines(card, report)
    conflicts = label_conflict_sentence(report)
    lines += ["", conflicts] if conflicts else []
    lines += ["", "Per class on the whole split (precision / recall / F1 / support):", ""]
    lines += _markdown_table(per_class_rows(report.full))
    for key, label in (("full", "whole split"), ("leakage_clean", "leakage-clean subset")):
        if (scores := report.subset(key)) is not None and one_vs_rest_rows(scores):
            lines += ["", f"Each class against the others, {label} (Wilson 95 % CIs):", ""]
            lines += _markdown_table(one_vs_rest_rows(scores))
    lines += CANDIDATES_HEADER + _candidate_rows(artifact_dir, card, report.full)
    lines += ["", SELECTION_RULE] + _rescore_lines(artifact_dir, card) + _group_lines(artifact_dir, card)
    candidates = load(Candidates, artifact_dir)
    if candidates is not None and (rows := comparison_rows(report, candidates, card.describes)):
        lines += ["", PAIRED_INTRO, ""] + _markdown_table(rows)
        if higher := better_on_testing_sentence(report, candidates):
            lines += ["", higher]
    lines += (
        _saliency_lines(artifact_dir) + _scan_type_lines(artifact_dir) + _trust_guard_and_robustness_lines(artifact_dir)
    )
    if SPEED_TABLE.exists():
        lines += ["", "Speed (`python -m benchmarks`):", "", SPEED_TABLE.read_text().strip()]
    return "\n".join(lines + ["", END])


def render_reproduce(artifact_dir: Path = ARTIFACT_DIR) -> str:
    """The README's "Reproduce the model" command: the one the shipped model's card recorded."""
    card = load_card(artifact_dir)
    lines = [REPRODUCE_START, "", "```bash", ". .venv/bin/activate", "pip install -r requirements-train.txt"]
    lines += [card.command or "# the shipped model's card records no command (trained before cards did)", "```"]
    if card.timings is not None:
        minutes = card.timings.total_wall_s / 60
        lines += ["", f"_The run that produced the shipped weights (`{card.candidate}`), from its card; it took "]
        lines[-1] += f"{minutes:.0f} min end to end on {card.machine.cpu if card.machine else 'its machine'}._"
    return "\n".join(lines + ["", REPRODUCE_END])


def _replaced(text: str, start: str, end: str, block: str) -> str:
    first, last = text.index(start), text.index(end) + len(end)
    return text[:first] + block + text[last:]


def update(readme: Path = README) -> bool:
    text = readme.read_text()
    new = _replaced(text, START, END, render())
    new = _replaced(new, REPRODUCE_START, REPRODUCE_END, render_reproduce())
    changed = new != text
    readme.write_text(new)
    return changed
