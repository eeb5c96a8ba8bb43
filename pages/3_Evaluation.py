"""Evaluation: how good the shipped model is on the held-out Testing split, whole and leakage-clean."""

import numpy as np
import pandas as pd
import streamlit as st

from model.errors import BrainMRIError
from model.i18n import N_, _, language, number, pct
from model.report.card_report import how_chosen
from model.report.evaluation_report import (
    GROUPS_INTRO,
    PAIRED_INTRO,
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
from model.report.figures import (
    confusion_matrix_figure,
    localisation_chart,
    probability_bars,
    reliability_figure,
    roc_pr_figure,
    training_curves,
)
from model.report.robustness_report import ROBUSTNESS_SUBSETS, accuracy_curves, robustness_rows, robustness_sentence
from model.report.saliency_report import (
    OUTLINE_CITATION,
    SUBSET_LABELS,
    WHAT_A_HIT_MEANS,
    WHY_NOT_PROOF,
    by_construction,
    gallery_caption,
    groups_of,
    headline,
    sanity_sentence,
    summary_rows,
    tolerance_words,
)
from model.report.scan_type_report import (
    confusion_rows,
    plane_rows,
    plane_sentence,
    scan_type_sentence,
    type_sentences,
)
from model.report.trust_report import (
    RANKING_HELP,
    RANKINGS,
    TRUST_SUBSETS,
    UNSEEN_SOURCES,
    caveat,
    trust_rows,
    unseen_source_rows,
)
from model.report.trust_report import group_rows as trust_group_rows
from model.schema.card import CARD_FILE, GALLERY_DIR
from model.schema.records import Evaluation, MethodSummary, RobustnessEvaluation, SaliencyEvaluation, TrustEvaluation
from pages.shared.layout import class_label, line_chart, page_setup, png_bytes, table
from pages.shared.served import (
    artifact_dir,
    candidates,
    card,
    evaluation,
    get_explainer,
    grad_cam_overlay,
    group_rescore,
    guard_evaluation,
    robustness_report,
    saliency_evaluation,
    scan_type_report,
    served_trust,
    stamp,
    trust_report,
)

PER_PAGE = 6

METRICS_EXPLAINED = N_(
    "Balanced accuracy: the mean of the four classes' recalls, so a large class cannot hide a weak one. Macro F1: "
    "the mean over classes of F1, which balances precision (how often a predicted class is right) and recall (how "
    "many of a class are found). ECE, expected calibration error: the average gap between the confidence shown "
    "and the accuracy reached, over confidence bins; 0 means a stated 80 % is right 80 % of the time."
)
ONE_VS_REST_EXPLAINED = N_(
    "Sensitivity: the share of a class's scans the model finds. Specificity: the share of the other scans it "
    "does not call that class. PPV: how often a call of that class is right; NPV: how often 'not that class' is "
    "right (both depend on how common the class is in this split). The curves sweep the threshold on that "
    "class's probability; AUC and average precision summarise them (1 is perfect)."
)
RELIABILITY_EXPLAINED = N_(
    "Reliability diagram: each bar is the accuracy of the predictions made with that confidence; on the diagonal, "
    "confidence means what it says; below it, the model is overconfident"
)

page_setup(N_("Evaluation on held-out scans"))
report, model_card = evaluation(), card()
if report is None:
    st.info(_("No evaluation has been committed for this model. Run `python -m training evaluate` (see README)."))
    st.stop()
if not model_card.describes(report.artifact_sha256):
    st.warning(
        _("The committed evaluation belongs to other weights than the model now loaded."), icon=":material/warning:"
    )

names = report.class_names
full, clean, copies = report.full, report.leakage_clean, report.leaked_copies
st.markdown(
    _(
        "Scored by `python -m training evaluate` through the app's own classification path ({runtime}) on the "
        "**{split}** split ({n} scans), which was never used for training, early stopping, model selection or "
        "calibration. **{copies} of its {n} scans are copies** (byte-identical, re-encoded or resized) of training "
        "scans, so the whole-split accuracy mostly measures memory. The **leakage-clean subset** — the {clean} test "
        "scans with no copy in Training — measures how the model does on scans it has never seen."
    ).format(
        runtime=report.runtime,
        split=report.split,
        n=full.n,
        copies=0 if copies is None else copies.n,
        clean=0 if clean is None else clean.n,
    )
)

HEADLINES = (
    (
        clean,
        N_("Accuracy on new scans (leakage-clean)"),
        N_("95 % CI {low}–{high} over {n} scans with no copy in Training: the honest figure"),
    ),
    (
        full,
        N_("Accuracy, whole Testing split"),
        N_("95 % bootstrap CI {low}–{high}; mostly memory (see above)"),
    ),
    (copies, N_("Accuracy on the copies"), N_("95 % CI {low}–{high} over {n} scans also seen in training")),
)
for column, (scores, title, caption) in zip(st.columns(3), HEADLINES):
    if scores is None:
        column.metric(_(title), "–")
        continue
    low, high = scores.accuracy_ci95
    column.metric(_(title), pct(scores.accuracy))
    column.caption(_(caption).format(low=pct(low), high=pct(high), n=scores.n))

table(subset_rows(report))
st.caption(clean_composition(report))
st.caption(_(METRICS_EXPLAINED))
if label_conflict_sentence(report):
    st.caption(label_conflict_sentence(report))


# Every cached figure takes the stamp of the file it draws from and the visitor's language as arguments: a
# rewritten result file or another language never gets an old PNG.
@st.cache_data(show_spinner=False, max_entries=2)
def training_curves_png(source: str, lang: str) -> bytes | None:
    return None if model_card.history is None else png_bytes(training_curves(model_card.history))


@st.cache_data(show_spinner=False, max_entries=8)
def roc_pr_png(choice: str, source: str, lang: str) -> bytes | None:
    subset = SUBSETS[choice]
    return png_bytes(roc_pr_figure(subset, _(choice))) if subset is not None and subset.one_vs_rest else None


@st.cache_data(show_spinner=False, max_entries=8)
def subset_figures(choice: str, source: str, lang: str) -> tuple[bytes, bytes, bytes]:
    """The confusion matrices and reliability diagram of one subset as PNGs, drawn once, not on every rerun."""
    chosen, label = SUBSETS[choice], _(choice)
    assert chosen is not None  # the radio offers only subsets with scans
    return (
        png_bytes(
            confusion_matrix_figure(chosen.confusion_matrix, names, False, _("{subset}: counts").format(subset=label))
        ),
        png_bytes(
            confusion_matrix_figure(
                chosen.confusion_matrix, names, True, _("{subset}: row-normalised").format(subset=label)
            )
        ),
        png_bytes(reliability_figure(chosen.calibration, _("Calibration"))),
    )


@st.cache_data(show_spinner=False, max_entries=128)
def probability_png(probabilities: tuple[float, ...], source: str, lang: str) -> bytes:
    return png_bytes(probability_bars(list(probabilities), names))


@st.fragment
def details_section() -> None:
    choice = st.radio(_("Show details for"), [k for k, v in SUBSETS.items() if v], format_func=_, horizontal=True)
    label, chosen = _(choice), SUBSETS[choice]
    assert chosen is not None
    table(per_class_rows(chosen))
    counts, normalised, reliability = subset_figures(choice, stamp(Evaluation.FILE), language())
    left, middle, right = st.columns(3)
    left.image(
        counts,
        caption=_("{subset}: confusion matrix, counts (rows: true class, columns: predicted)").format(subset=label),
        alt=_("Confusion matrix of the {subset}; the per-class table above gives the same figures").format(
            subset=label.lower()
        ),
    )
    middle.image(
        normalised,
        caption=_("{subset}: each row as shares of the true class; the diagonal is recall").format(subset=label),
        alt=_("Row-normalised confusion matrix of the {subset}").format(subset=label.lower()),
    )
    right.image(
        reliability,
        caption=_(RELIABILITY_EXPLAINED),
        alt=_("Reliability diagram, ECE {ece}").format(ece=number(chosen.calibration.ece, 3)),
    )
    if (curves := roc_pr_png(choice, stamp(Evaluation.FILE), language())) is not None:
        st.markdown(_("**Each class against the others** ({subset}; Wilson 95 % CIs)").format(subset=label.lower()))
        table(one_vs_rest_rows(chosen))
        st.image(curves, caption=_(ONE_VS_REST_EXPLAINED), alt=_("ROC and precision-recall curves, one per class"))


@st.fragment
def mistakes_section(report: Evaluation) -> None:
    st.subheader(_("Mistakes"))
    mistakes = [r for r in report.images if r.predicted != r.label and r.gallery_image]
    only_clean = st.toggle(_("Only leakage-clean scans"), value=False)
    if only_clean:
        mistakes = [r for r in mistakes if not r.leaked]
    counted = (
        _("{n} misclassified test scans (leakage-clean only)") if only_clean else _("{n} misclassified test scans")
    )
    st.caption(counted.format(n=len(mistakes)))
    show_cam = st.toggle(_("Show Grad-CAM for the predicted class"), value=False)
    pages = max(1, int(np.ceil(len(mistakes) / PER_PAGE)))
    page = st.number_input(_("Page (of {pages})").format(pages=pages), 1, pages, 1) if pages > 1 else 1
    explainer = None
    if show_cam:
        try:
            explainer = get_explainer()
        except BrainMRIError as error:
            st.error(_("Grad-CAM is unavailable: {error}").format(error=error))
    grid = st.columns(3)
    for slot, row in enumerate(mistakes[(page - 1) * PER_PAGE : page * PER_PAGE]):
        path = artifact_dir() / GALLERY_DIR / str(row.gallery_image)
        with grid[slot % 3].container(border=True):
            image = grad_cam_overlay(path, row.predicted) if explainer is not None else str(path)
            verdict = _("true {truth}, predicted {predicted}").format(
                truth=class_label(names[row.label]), predicted=class_label(names[row.predicted])
            )
            kind = _("copy of a training scan") if row.leaked else _("new scan")
            st.image(
                image,
                width="stretch",
                caption=f"{row.path} · {verdict} · {kind}",
                alt=_("Misclassified test scan: {verdict}").format(verdict=verdict),
            )
            st.image(
                probability_png(tuple(row.probabilities), stamp(CARD_FILE), language()),
                width="stretch",
                alt=_("Calibrated probabilities: {values}").format(
                    values=", ".join(f"{_(n)} {pct(p, 0)}" for n, p in zip(names, row.probabilities))
                ),
            )


SUBSETS = {N_("Whole split"): full, N_("Leakage-clean subset"): clean, N_("Copies of training scans"): copies}
details_section()
st.subheader(_("Training curves"))
if (curves_png := training_curves_png(stamp(CARD_FILE), language())) is not None:
    st.image(
        curves_png,
        caption=_("Loss and accuracy per epoch of both training stages, on train and validation"),
        alt=_("Training curves: loss and accuracy per epoch"),
    )
st.caption(how_chosen(model_card))
if (scored := candidates()) is not None and (rows := comparison_rows(report, scored, card().describes)):
    st.subheader(_("Is the shipped model really better?"))
    st.markdown(_(PAIRED_INTRO))
    table(rows)
    if higher := better_on_testing_sentence(report, scored):
        st.markdown(higher)
if (by_group := group_rescore()) is not None:
    st.subheader(_("Scans from another source, by sequence"))
    st.markdown(_(GROUPS_INTRO))
    table(group_rows(by_group, model_card.describes))
if (kinds := scan_type_report()) is not None:
    st.subheader(_("Which kind of scan is it?"))
    st.markdown(scan_type_sentence(kinds))
    table(confusion_rows(kinds))
    if said := plane_sentence(kinds):
        st.markdown(said)
        table(plane_rows(kinds))
mistakes_section(report)


@st.fragment
def saliency_section(report: SaliencyEvaluation) -> None:
    """Do the maps point at the tumour? The committed `python -m training saliency` run, rendered."""
    st.subheader(_("Do the maps point at the tumour?"))
    if not model_card.describes(report.artifact_sha256):
        st.warning(_("This check was run on other weights than the model now loaded."), icon=":material/warning:")
    st.markdown(headline(report))
    if construction := by_construction(model_card, candidates()):
        st.markdown(construction)
    st.markdown(f"{_(WHAT_A_HIT_MEANS)} {_(WHY_NOT_PROOF)}")
    left, right = st.columns(2)
    subset = left.radio(_("Scans"), list(SUBSET_LABELS), format_func=lambda s: _(SUBSET_LABELS[s]), horizontal=False)
    group = right.selectbox(
        _("Group"),
        groups_of(report, subset),
        format_func=_,
        help=_("Per true class, or by whether the model was right"),
    )
    table(summary_rows(report, subset, group))
    st.image(
        localisation_png(report.tables[subset].groups[group], language()),
        caption=_("Pointing game and energy share per method, with 95 % CIs"),
        alt=_("Bar chart of the table above"),
    )
    sample = report.slow_methods_subsample
    st.caption(
        _(
            "Each method explains the true class. Pointing-game tolerance {tolerance} (Zhang et al., ECCV 2016); 95 % "
            "bootstrap CIs. Score-CAM and SmoothGrad ran on a seeded subsample of at most {most} scans per subset "
            "(seed {seed})."
        ).format(
            tolerance=tolerance_words(report.pointing_tolerance),
            most=sample.max_scans_per_subset,
            seed=sample.seed,
        )
        + " "
        + _(OUTLINE_CITATION)
    )
    st.markdown(sanity_sentence(report))
    gallery = report.gallery
    for kind, heading in (("best", _("**Best cases**")), ("worst", _("**Worst cases**"))):
        shown = [g for g in gallery if g.kind == kind]
        if shown:
            st.markdown(heading + " " + _("(by Grad-CAM's energy share inside the outline)"))
            for item in shown:
                st.image(
                    str(artifact_dir() / item.file),
                    width="stretch",
                    caption=gallery_caption(item, model_card.class_names),
                    alt=_("Scan, outline and saliency maps of {scan}").format(scan=item.scan),
                )


@st.cache_data(show_spinner=False, max_entries=32)
def localisation_png(table: dict[str, MethodSummary], lang: str) -> bytes:
    return png_bytes(localisation_chart(table))


@st.fragment
def trust_section(report: TrustEvaluation) -> None:
    """Prediction sets and referral: when to trust an answer, from the committed `python -m training trust`."""
    st.subheader(_("When to trust an answer"))
    st.markdown(caveat(report))
    table(trust_rows(report))
    if report.groups:
        st.caption(_("Per validation group, on held-out halves (sets fitted on the other half):"))
        table(trust_group_rows(report))
    trust = served_trust()
    if trust is not None and trust.by_type:
        st.markdown(_("**By kind of scan** (the cells the sets and referral are fitted on):"))
        st.markdown("\n".join(f"- {sentence}" for sentence in type_sentences(trust)))
    if report.types:
        st.caption(_("Per kind of scan, on held-out halves (sets fitted on the other half):"))
        table(trust_group_rows(report, by_type=True))
    if report.unseen_sources:
        st.caption(_(UNSEEN_SOURCES))
        table(unseen_source_rows(report))
    ranking = st.radio(
        _("Keep the scans that are most certain by"),
        RANKINGS,
        format_func=_,
        horizontal=True,
        help=_(RANKING_HELP),
        key="ranking",
    )
    curves = pd.DataFrame(
        {
            _(TRUST_SUBSETS[name]): {round(100 * p.kept_share): p.accuracy for p in points}
            for name, points in report.coverage_curves[ranking].items()
        }
    )
    kept = _("% of scans kept (the most certain by {ranking})").format(ranking=_(ranking))
    st.altair_chart(line_chart(curves.sort_index(), kept, _("accuracy")), width="stretch")
    st.caption(
        _(
            "Selective prediction: the model answers only for its most certain scans and refers the rest. Prediction "
            "sets: split conformal prediction with the least-ambiguous score (Sadinle et al., JASA 2019), calibrated "
            "on validation."
        )
    )


if (trust := trust_report()) is not None:
    trust_section(trust)


@st.fragment
def robustness_section(report: RobustnessEvaluation) -> None:
    """Accuracy against severity for each acquisition change, from the committed `python -m training robustness`."""
    st.subheader(_("Scans from other scanners: robustness to acquisition changes"))
    st.markdown(robustness_sentence(report))
    subset = st.radio(
        _("Scans"), list(ROBUSTNESS_SUBSETS), format_func=lambda s: _(ROBUSTNESS_SUBSETS[s]), horizontal=True
    )
    curves = pd.DataFrame(accuracy_curves(report, subset)).sort_index()
    st.altair_chart(line_chart(curves, _("severity (0 = the scan as it is)"), _("accuracy")), width="stretch")
    table(robustness_rows(report, subset))
    st.caption(
        _(
            "Each scan is changed before the app's preprocessing, as a scan from another scanner would arrive: noise "
            "(Gaussian, and Rician as in magnitude MR images), blur, JPEG re-compression, gamma and contrast changes, "
            "a bias field (smooth coil-sensitivity shading), rotation and a lower acquisition resolution. *Flagged*: "
            "the share the not-an-MRI guard sets aside at the strongest setting."
        )
    )


if (robustness := robustness_report()) is not None:
    robustness_section(robustness)
else:
    st.info(_("No robustness check has been committed. Run `python -m training robustness` (see README)."))

if (guard := guard_evaluation()) is not None:
    st.subheader(_("Is it a brain MRI at all?"))
    st.markdown(guard_sentence(guard))

saliency = saliency_evaluation()
if saliency is None:
    st.info(_("No saliency check has been committed. Run `python -m training saliency` (see README)."))
else:
    saliency_section(saliency)
