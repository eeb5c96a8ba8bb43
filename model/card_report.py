"""The model card page (Mitchell et al., FAT* 2019; CLAIM 2024), written from the committed files only.

Each function returns Markdown for one section; `pages/5_Model_card.py` lays them out.
"""

from __future__ import annotations

from typing import Any

from model.card import ModelCard
from model.evaluation_report import accuracy_with_ci, audit_sentence, label_conflict_sentence

INTENDED_USE = (
    "**Intended use.** Teaching and research: to show students and researchers how a convolutional classifier of "
    "brain MRI slices behaves, how well it does on scans it has and has not seen, and where it looks. "
    "**Out of scope:** any clinical use (diagnosis, triage, treatment, second reading), scans of other body parts "
    "or modalities, 3-D volumes, children's scans, and any population or scanner unlike the public dataset it was "
    "trained on. It is not a medical device and has no regulatory clearance."
)


def provenance(card: ModelCard, audit: dict[str, Any] | None, evaluation: dict[str, Any] | None) -> str:
    """Where the data came from and what was found in it."""
    dataset = card.dataset
    text = (
        f"**Data.** {dataset.get('source', 'unknown source')}: {dataset.get('images', '?')} Training scans "
        f"({dataset.get('train_images', '?')} to fit, {dataset.get('validation_images', '?')} to validate, split so "
        "that near duplicates stay on one side); the Testing split is only ever scored. Tumour outlines for the "
        "saliency check: Cheng et al., figshare brain tumour dataset, CC BY 4.0."
    )
    if audit is not None:
        text += " " + audit_sentence(audit)
    if evaluation is not None and label_conflict_sentence(evaluation):
        text += " " + label_conflict_sentence(evaluation)
    return text


def training_procedure(card: ModelCard) -> str:
    config = card.training_config
    return (
        f"**Training.** Xception with ImageNet weights, {card.fine_tuning}; seed {config.get('seed')}, "
        f"{card.timings.get('total_wall_s', 0) / 60:.0f} min on {card.machine.get('cpu_count', '?')} CPU cores "
        f"({card.machine.get('cpu', '?')}). Probabilities are temperature-scaled on validation "
        f"(T = {card.temperature:.2f}). {card.how_chosen}"
    )


def metrics(evaluation: dict[str, Any]) -> str:
    return (
        f"**Metrics** (Testing, through the app's own path). Whole split: {accuracy_with_ci(evaluation['full'])}; "
        f"leakage-clean (new scans): {accuracy_with_ci(evaluation['leakage_clean'])}; copies of training scans: "
        f"{accuracy_with_ci(evaluation['leaked_copies'])}. Per class, calibration and curves: Evaluation page."
    )


def failure_modes(evaluation: dict[str, Any], trust: dict[str, Any] | None, guard: dict[str, Any] | None) -> list[str]:
    """The weakest class on new scans, the calibration gap, how far the prediction sets carry, what the guard
    misses."""
    clean = evaluation["leakage_clean"]
    weakest = min(
        ((name, v["sensitivity"]) for name, v in clean.get("one_vs_rest", {}).items() if v["sensitivity"]["value"]),
        key=lambda item: item[1]["value"],
        default=None,
    )
    modes = []
    if weakest is not None:
        name, sensitivity = weakest
        low, high = sensitivity["ci95"]
        modes.append(
            f"On new scans from other sources the model finds only {sensitivity['value']:.0%} of {name.lower()} "
            f"cases (95 % CI {low:.0%}–{high:.0%})."
        )
    copies = evaluation["leaked_copies"]
    modes.append(
        f"Its confidence does not carry to other sources: the calibration error is {clean['calibration']['ece']:.3f} "
        f"on new scans against {copies['calibration']['ece']:.3f} on copies of training scans."
    )
    if trust is not None:
        coverage = trust["sets"]["testing_leakage_clean"]["coverage"]
        modes.append(
            f"Its {1 - trust['alpha']:.0%} prediction sets held the true class for only {coverage:.0%} of the "
            "new scans."
        )
    if guard is not None:
        missed = [s["name"] for s in guard["out_of_distribution_scores"] if not s["flagged"]]
        caught = (
            f"let {len(missed)} of {guard['out_of_distribution']['images']} non-MRI test images through "
            f"({', '.join(missed)})"
            if missed
            else f"flagged all {guard['out_of_distribution']['images']} non-MRI test images, but it cannot have seen "
            "every kind of picture a visitor may upload"
        )
        modes.append(f"The not-an-MRI guard {caught}; a flagged scan's verdict is greyed out, an unflagged one is not.")
    return modes


def testing_history(candidates: dict[str, Any] | None) -> str:
    """How the held-out split has been used so far: every candidate scored once, after its run's choice."""
    if candidates is None:
        return "**Use of Testing.** No candidate has been scored yet."
    runs = candidates["runs"]
    scored = sum(len(run) for run in runs.values())
    return (
        f"**Use of Testing.** {scored} candidates from {len(runs)} training runs ({', '.join(runs)}) were each scored "
        "once, after their run had chosen on validation; Testing never chose a model, an epoch, a temperature or a "
        "threshold. It did shape which experiments were tried next (the runs are adaptive), so the shipped model's "
        "Testing figures are slightly optimistic; the pre-registered rule (training/PREREGISTRATION.md) limits "
        "that to the choice of experiments."
    )
