"""The model card page (Mitchell et al., FAT* 2019; CLAIM 2024), written from the committed files only.

Each function returns Markdown for one section; `pages/5_Model_card.py` lays them out.
"""

from __future__ import annotations

from model.core.trust import Trust
from model.i18n import N_, _, number, pct
from model.report.evaluation_report import accuracy_with_ci, audit_sentence, label_conflict_sentence
from model.report.scan_type_report import key_name, validated_sentence
from model.schema.card import ModelCard
from model.schema.records import Audit, Candidates, Evaluation, GuardEvaluation, PrecisionEvaluation, TrustEvaluation
from model.schema.tables import ClassificationScores

SHORT_NOTICE = N_("Research and teaching demo — not a medical device")  # on every page and every report page
NOTICE = N_("Do not use it to diagnose or treat anyone.")
WEAK_TYPE_ACCURACY = 0.85  # a validated kind of scan right less often than this is named among the failure modes

INTENDED_USE = N_(
    "**Intended use.** Teaching and research: to show students and researchers how a convolutional classifier of "
    "brain MRI slices behaves, how well it does on scans it has and has not seen, and where it looks. "
    "**Out of scope:** any clinical use (diagnosis, triage, treatment, second reading), scans of other body parts "
    "or modalities, 3-D analysis (volumes and series are classified slice by slice, each slice on its own), "
    "children's scans, and any population or scanner unlike the public dataset it was "
    "trained on. It is not a medical device and has no regulatory clearance."
)


def provenance(card: ModelCard, audit: Audit | None, evaluation: Evaluation | None) -> str:
    """Where the data came from and what was found in it."""
    dataset = card.dataset
    if dataset is None:
        return _("**Data.** This model's card records no training data.")
    text = _(
        "**Data.** {source}: {images} Training scans ({train} to fit, {validation} to validate, split so that near "
        "duplicates stay on one side); the Testing split is only ever scored. Tumour outlines for the saliency check: "
        "Cheng et al., figshare brain tumour dataset, CC BY 4.0."
    ).format(
        source=dataset.source,
        images=dataset.images,
        train=dataset.train_images,
        validation=dataset.validation_images,
    )
    if audit is not None:
        text += " " + audit_sentence(audit)
    if evaluation is not None and label_conflict_sentence(evaluation):
        text += " " + label_conflict_sentence(evaluation)
    return text


def training_procedure(card: ModelCard) -> str:
    config = card.training_config
    return _(
        "**Training.** Xception with ImageNet weights, {fine_tuning}; seed {seed}, {minutes} min on {cores} CPU cores "
        "({cpu}). Probabilities are temperature-scaled on validation (T = {temperature}). {how_chosen}"
    ).format(
        fine_tuning=fine_tuning(card),
        seed="?" if config is None else config.seed,
        minutes="?" if card.timings is None else round(card.timings.total_wall_s / 60),
        cores="?" if card.machine is None else card.machine.cpu_count,
        cpu="?" if card.machine is None else card.machine.cpu,
        temperature=number(card.temperature, 2),
        how_chosen=how_chosen(card),
    )


def metrics(evaluation: Evaluation) -> str:
    return _(
        "**Metrics** (Testing, through the app's own path). Whole split: {full}; leakage-clean (new scans): {clean}; "
        "copies of training scans: {copies}. Per class, calibration and curves: Evaluation page."
    ).format(
        full=accuracy_with_ci(evaluation.full),
        clean=accuracy_with_ci(evaluation.leakage_clean),
        copies=accuracy_with_ci(evaluation.leaked_copies),
    )


def failure_modes(evaluation: Evaluation, trust: TrustEvaluation | None, guard: GuardEvaluation | None) -> list[str]:
    """The weakest class on new scans, the calibration gap, how far the prediction sets carry, what the guard
    misses."""
    clean, copies = evaluation.leakage_clean, evaluation.leaked_copies
    modes = [] if clean is None else _weakest_class(clean)
    if clean is not None and copies is not None:
        modes.append(
            _(
                "Its confidence does not carry to other sources: the calibration error is {clean} on new scans "
                "against {copies} on copies of training scans."
            ).format(clean=number(clean.calibration.ece, 3), copies=number(copies.calibration.ece, 3))
        )
    if trust is not None:
        modes += _weak_scan_types(trust)
        coverage = trust.sets["testing_leakage_clean"].coverage
        modes.append(
            _("Its {level} prediction sets held the true class for only {coverage} of the new scans.").format(
                level=pct(1 - trust.alpha, 0), coverage=pct(coverage, 0)
            )
        )
    if guard is not None:
        missed = [s.name for s in guard.out_of_distribution_scores if not s.flagged]
        total = guard.out_of_distribution.images
        if missed:
            caught = _("The not-an-MRI guard let {missed} of {total} non-MRI test images through ({names})").format(
                missed=len(missed), total=total, names=", ".join(missed)
            )
        else:
            caught = _(
                "The not-an-MRI guard flagged all {total} non-MRI test images, but it cannot have seen every kind of "
                "picture a visitor may upload"
            ).format(total=total)
        modes.append(caught + _("; a flagged scan's verdict is greyed out, an unflagged one is not."))
    return modes


def _weak_scan_types(report: TrustEvaluation) -> list[str]:
    """The kinds of scan the model was not validated on, or is right on less than it should be (under 85 %)."""
    trust = Trust.from_report(report)
    weak = [
        _("{kind} ({accuracy} right)").format(kind=key_name(k), accuracy=pct(f.accuracy, 0))
        for k, f in trust.by_type.items()
        if trust.fitted(k) is not None and f.accuracy is not None and f.accuracy < WEAK_TYPE_ACCURACY
    ]
    modes = [validated] if (validated := validated_sentence(trust)) else []
    if weak:
        modes.append(
            _("On these kinds of scan it is often wrong on validation: {kinds}.").format(kinds="; ".join(weak))
        )
    return modes


def _weakest_class(clean: ClassificationScores) -> list[str]:
    """The class the model finds least often among new scans, with its CI (none when no class was found)."""
    found = {name: v.sensitivity for name, v in clean.one_vs_rest.items() if v.sensitivity.value}
    if not found:
        return []
    name = min(found, key=lambda key: found[key].value or 0.0)
    value, (low, high) = found[name].value or 0.0, found[name].ci95 or (0.0, 0.0)
    sentence = _("On new scans from other sources the model finds only {share} of {name} cases (95 % CI {low}–{high}).")
    return [sentence.format(share=pct(value, 0), name=_(name).lower(), low=pct(low, 0), high=pct(high, 0))]


def testing_history(candidates: Candidates | None) -> str:
    """How the held-out split has been used so far: every candidate scored once, after its run's choice."""
    if candidates is None:
        return _("**Use of Testing.** No candidate has been scored yet.")
    runs = candidates.runs
    return _(
        "**Use of Testing.** {scored} candidates from {count} training runs ({names}) were each scored once, after "
        "their run had chosen on validation; Testing never chose a model, an epoch, a temperature or a threshold. It "
        "did shape which experiments were tried next (the runs are adaptive), and once the rule that places the "
        "not-an-MRI guard's threshold (see README), so the shipped model's Testing figures are slightly optimistic; "
        "the pre-registered rule (training/PREREGISTRATION.md) limits that to the choice of experiments."
    ).format(scored=sum(len(run) for run in runs.values()), count=len(runs), names=", ".join(runs))


# Names of the candidates a training run saves and of the ends of stage 2, as the app shows them.
CANDIDATE_WORDS = (
    N_("frozen backbone head"),
    N_("finetuned exit flow"),
    N_("epoch averaged"),
    N_("weight interpolated"),
    N_("best checkpoint"),
)


def fine_tuning(card: ModelCard) -> str:
    """How the backbone became this model, in words, from what training recorded."""
    selection = None if card.validation is None else card.validation.selection
    config = card.training_config
    mixup = 0.0 if config is None else config.mixup
    text = _("exit flow fine-tuned")
    if selection and selection.stage2_end != "best checkpoint":
        text += f" ({stage2_end_words(selection.stage2_end)})"
    if mixup:
        text += _(" with manifold mixup (Beta({a}, {a}))").format(a=number(mixup, 1))
    attention = 0.0 if config is None else config.attention_weight
    if attention:
        text += _(", guided by radiologists' tumour outlines (attention weight λ = {w})").format(w=number(attention, 2))
    if selection and card.candidate == "weight_interpolated":
        mixed_with = (
            _(" and mixed with the model it started from (α = {alpha})")
            if config is not None and config.init_from
            else _(" and mixed with the frozen-backbone head (α = {alpha})")
        )
        text += mixed_with.format(alpha=number(selection.alpha, 1))
    return text


def how_chosen(card: ModelCard) -> str:
    """Which candidate training kept and by what, in words, from what training recorded."""
    validation = card.validation
    if validation is None:
        return ""
    selection, selected_words = validation.selection, validation.selected.replace("_", " ")
    candidate_words = {k.replace("_", " "): v for k, v in validation.candidates_accuracy.items()}
    text = _(
        "Validation accuracy of each candidate (a duplicate-aware split of the training sources): {scores}; "
        "selected: {chosen}"
    ).format(
        scores=", ".join(f"{_(words)} {pct(v)}" for words, v in candidate_words.items()),
        chosen=_(selected_words),
    )
    if not selection:
        return text + "."
    return text + (
        _(
            " (α = {alpha} between the stage-1 weights and the end of stage 2, its {end}; lowest worst-group "
            "validation loss, each source and sequence at its own fitted temperature)."
        )
        if selection.by_worst_group
        else _(
            " (α = {alpha} between the stage-1 weights and the end of stage 2, its {end}; lowest validation loss "
            "over clean, mirrored and augmented views)."
        )
    ).format(alpha=number(selection.alpha, 1), end=stage2_end_words(selection.stage2_end))


def stage2_end_words(end: str) -> str:
    """The card's 'best checkpoint' or 'average of the last 8 epochs' in the visitor's language."""
    words = end.split()
    if end.startswith("average of the last ") and len(words) == 6:
        return _("average of the last {n} epochs").format(n=words[4])
    return _(end)


def precision_sentence(report: PrecisionEvaluation | None) -> str:
    """Which arithmetic the forward pass serves in, and what the low-precision ones measured against it gave."""
    served = _("**Arithmetic.** The app's forward pass runs in float32 on ONNX Runtime.")
    if report is None:
        return served
    measured = [
        _(
            "{precision} ({engine}): the class agreed on {agree} of {n} scans, the probabilities differed by up "
            "to {diff}"
        ).format(
            precision=row.precision,
            engine=row.engine,
            agree=pct(row.class_agreement),
            n=row.scans,
            diff=number(row.max_probability_difference, 3),
        )
        for row in report.results.values()
        if row.available and row.class_agreement is not None and row.max_probability_difference is not None
    ]
    bounds = _("at least {agree} of classes and at most {diff} of probability").format(
        agree=pct(report.bounds["min_class_agreement"]), diff=number(report.bounds["max_probability_difference"], 2)
    )
    meets = any(row.serves for row in report.results.values())
    verdict = (
        _("one is within every bound, but the app has no low-precision path yet")
        if meets
        else _("none is within every bound, so float32 stays")
    )
    return " ".join(
        [
            served,
            _("Measured against it on every validation and Testing scan ({cpu}; serving needs {bounds}):").format(
                cpu=report.cpu, bounds=bounds
            ),
            "; ".join(measured) + ";",
            verdict + ".",
        ]
    )
