"""Evaluation: how good the shipped model is on the held-out Testing split, whole and leakage-clean."""

import numpy as np
import pandas as pd
import streamlit as st

from model.card import CANDIDATES_FILE, OOD_EVALUATION_FILE
from model.errors import BrainMRIError
from model.evaluation_report import (
    PAIRED_INTRO,
    comparison_rows,
    guard_sentence,
    label_conflict_sentence,
    one_vs_rest_rows,
    per_class_rows,
    subset_rows,
)
from model.figures import (
    confusion_matrix_figure,
    localisation_chart,
    probability_bars,
    reliability_figure,
    roc_pr_figure,
    training_curves,
)
from model.robustness_report import ROBUSTNESS_SUBSETS, accuracy_curves, robustness_rows, robustness_sentence
from model.saliency_report import (
    OUTLINE_CITATION,
    SUBSET_LABELS,
    WHAT_A_HIT_MEANS,
    WHY_NOT_PROOF,
    groups_of,
    headline,
    sanity_sentence,
    summary_rows,
)
from model.trust import RANKING_HELP, RANKINGS, TRUST_SUBSETS, caveat, trust_rows
from pages.shared.ui import (
    artifact_dir,
    card,
    committed_json,
    evaluation,
    get_explainer,
    grad_cam_overlay,
    page_setup,
    png_bytes,
    robustness_report,
    saliency_evaluation,
    trust_report,
)

GALLERY_DIR = "gallery"  # misclassified Testing scans, beside the evaluation (python -m training evaluate)
PER_PAGE = 6
# Quoted, not reproduced: the seed notebook's Testing accuracy (Xception@256, full fine-tune on a Colab GPU).
SEED_REPORTED_ACCURACY = 0.759

METRICS_EXPLAINED = (
    "Balanced accuracy: the mean of the four classes' recalls, so a large class cannot hide a weak one. Macro F1: "
    "the mean over classes of F1, which balances precision (how often a predicted class is right) and recall (how "
    "many of a class are found). ECE, expected calibration error: the average gap between the confidence shown "
    "and the accuracy reached, over confidence bins; 0 means a stated 80 % is right 80 % of the time."
)
ONE_VS_REST_EXPLAINED = (
    "Sensitivity: the share of a class's scans the model finds. Specificity: the share of the other scans it "
    "does not call that class. PPV: how often a call of that class is right; NPV: how often 'not that class' is "
    "right (both depend on how common the class is in this split). The curves sweep the threshold on that "
    "class's probability; AUC and average precision summarise them (1 is perfect)."
)
RELIABILITY_EXPLAINED = (
    "Reliability diagram: each bar is the accuracy of the predictions made with that confidence; on the diagonal, "
    "confidence means what it says; below it, the model is overconfident"
)

page_setup("Evaluation on held-out scans")
report, model_card = evaluation(), card()
if report is None:
    st.info("No evaluation has been committed for this model. Run `python -m training evaluate` (see README).")
    st.stop()
if report["artifact_sha256"] != model_card.weights_sha256:
    st.warning(
        "The committed evaluation belongs to other weights than the model now loaded.", icon=":material/warning:"
    )

names = report["class_names"]
full, clean, copies = report["full"], report["leakage_clean"], report["leaked_copies"]
st.markdown(
    f"Scored by `python -m training evaluate` through the app's own classification path "
    f"({report.get('runtime', 'TensorFlow')}) on the **{report['split']}** split ({full['n']} scans), "
    "which was never used for training, early stopping, model selection or calibration. "
    f"**{copies['n']} of its {full['n']} scans are copies** (byte-identical, re-encoded or resized) of training "
    "scans, so the whole-split accuracy mostly measures memory. The **leakage-clean subset** — the "
    f"{clean['n']} test scans with no copy in Training — measures how the model does on scans it has never seen."
)

columns = st.columns(3)
low, high = clean["accuracy_ci95"]
columns[0].metric("Accuracy on new scans (leakage-clean)", f"{clean['accuracy']:.1%}")
columns[0].caption(f"95 % CI {low:.1%}–{high:.1%} over {clean['n']} scans with no copy in Training: the honest figure")
low, high = full["accuracy_ci95"]
columns[1].metric("Accuracy, whole Testing split", f"{full['accuracy']:.1%}")
columns[1].caption(
    f"95 % bootstrap CI {low:.1%}–{high:.1%}; mostly memory (see above). The seed project reported "
    f"{SEED_REPORTED_ACCURACY:.1%} on this split (quoted, not reproduced here)"
)
low, high = copies["accuracy_ci95"]
columns[2].metric("Accuracy on the copies", f"{copies['accuracy']:.1%}")
columns[2].caption(f"95 % CI {low:.1%}–{high:.1%} over {copies['n']} scans also seen in training")

st.dataframe(pd.DataFrame(subset_rows(report)), hide_index=True, width="stretch")
st.caption(METRICS_EXPLAINED)
if label_conflict_sentence(report):
    st.caption(label_conflict_sentence(report))


@st.cache_data(show_spinner=False, max_entries=1)
def training_curves_png() -> bytes:
    return png_bytes(training_curves(model_card.history))


@st.cache_data(show_spinner=False, max_entries=8)
def roc_pr_png(choice: str) -> bytes | None:
    subset = SUBSETS[choice]
    return png_bytes(roc_pr_figure(subset, choice)) if "one_vs_rest" in subset else None


@st.cache_data(show_spinner=False, max_entries=8)
def subset_figures(choice: str) -> tuple[bytes, bytes, bytes]:
    """The confusion matrices and reliability diagram of one subset as PNGs, drawn once, not on every rerun."""
    chosen = SUBSETS[choice]
    return (
        png_bytes(confusion_matrix_figure(chosen["confusion_matrix"], names, False, f"{choice}: counts")),
        png_bytes(confusion_matrix_figure(chosen["confusion_matrix"], names, True, f"{choice}: row-normalised")),
        png_bytes(reliability_figure(chosen["calibration"]["bins"], chosen["calibration"]["ece"], "Calibration")),
    )


@st.cache_data(show_spinner=False, max_entries=128)
def probability_png(probabilities: tuple[float, ...]) -> bytes:
    return png_bytes(probability_bars(list(probabilities), names))


@st.fragment
def details_section() -> None:
    choice = st.radio("Show details for", list(SUBSETS), horizontal=True)
    st.dataframe(pd.DataFrame(per_class_rows(SUBSETS[choice])), hide_index=True, width="stretch")
    counts, normalised, reliability = subset_figures(choice)
    left, middle, right = st.columns(3)
    left.image(
        counts,
        caption=f"{choice}: confusion matrix, counts (rows: true class, columns: predicted)",
        alt=f"Confusion matrix of the {choice.lower()}; the per-class table above gives the same figures",
    )
    middle.image(
        normalised,
        caption=f"{choice}: each row as shares of the true class; the diagonal is recall",
        alt=f"Row-normalised confusion matrix of the {choice.lower()}",
    )
    right.image(
        reliability,
        caption=RELIABILITY_EXPLAINED,
        alt=f"Reliability diagram, ECE {SUBSETS[choice]['calibration']['ece']:.3f}",
    )
    if (curves := roc_pr_png(choice)) is not None:
        st.markdown(f"**Each class against the others** ({choice.lower()}; Wilson 95 % CIs)")
        st.dataframe(pd.DataFrame(one_vs_rest_rows(SUBSETS[choice])), hide_index=True, width="stretch")
        st.image(curves, caption=ONE_VS_REST_EXPLAINED, alt="ROC and precision-recall curves, one per class")


@st.fragment
def mistakes_section() -> None:
    st.subheader("Mistakes")
    mistakes = [r for r in report["images"] if r["predicted"] != r["label"] and r.get("gallery_image")]
    only_clean = st.toggle("Only leakage-clean scans", value=False)
    if only_clean:
        mistakes = [r for r in mistakes if not r["leaked"]]
    st.caption(f"{len(mistakes)} misclassified test scans" + (" (leakage-clean only)" if only_clean else ""))
    show_cam = st.toggle("Show Grad-CAM for the predicted class", value=False)
    pages = max(1, int(np.ceil(len(mistakes) / PER_PAGE)))
    page = st.number_input(f"Page (of {pages})", 1, pages, 1) if pages > 1 else 1
    explainer = None
    if show_cam:
        try:
            explainer = get_explainer()
        except BrainMRIError as error:
            st.error(f"Grad-CAM is unavailable: {error}")
    grid = st.columns(3)
    for slot, row in enumerate(mistakes[(page - 1) * PER_PAGE : page * PER_PAGE]):
        path = artifact_dir() / GALLERY_DIR / row["gallery_image"]
        with grid[slot % 3].container(border=True):
            image = grad_cam_overlay(path, row["predicted"]) if explainer is not None else str(path)
            verdict = f"true {names[row['label']]}, predicted {names[row['predicted']]}"
            st.image(
                image,
                width="stretch",
                caption=f"{row['path']} · {verdict}"
                + (" · copy of a training scan" if row["leaked"] else " · new scan"),
                alt=f"Misclassified test scan: {verdict}",
            )
            st.image(
                probability_png(tuple(row["probabilities"])),
                width="stretch",
                alt="Calibrated probabilities: "
                + ", ".join(f"{n} {p:.0%}" for n, p in zip(names, row["probabilities"])),
            )


SUBSETS = {"Whole split": full, "Leakage-clean subset": clean, "Copies of training scans": copies}
details_section()
st.subheader("Training curves")
st.image(
    training_curves_png(),
    caption="Loss and accuracy per epoch of both training stages, on train and validation",
    alt="Training curves: loss and accuracy per epoch",
)
st.caption(model_card.how_chosen)
if (candidates := committed_json(CANDIDATES_FILE)) is not None and (rows := comparison_rows(report, candidates)):
    st.subheader("Is the shipped model really better?")
    st.markdown(PAIRED_INTRO)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
mistakes_section()


@st.fragment
def saliency_section(report: dict) -> None:
    """Do the maps point at the tumour? The committed `python -m training saliency` run, rendered."""
    st.subheader("Do the maps point at the tumour?")
    if report["artifact_sha256"] != model_card.weights_sha256:
        st.warning("This check was run on other weights than the model now loaded.", icon=":material/warning:")
    st.markdown(headline(report))
    st.markdown(f"{WHAT_A_HIT_MEANS} {WHY_NOT_PROOF}")
    left, right = st.columns(2)
    subset = left.radio("Scans", list(SUBSET_LABELS), format_func=SUBSET_LABELS.get, horizontal=False)
    group = right.selectbox(
        "Group", groups_of(report, subset), help="Per true class, or by whether the model was right"
    )
    st.dataframe(pd.DataFrame(summary_rows(report, subset, group)), hide_index=True, width="stretch")
    st.image(
        localisation_png(subset, group),
        caption="Pointing game and energy share per method, with 95 % CIs",
        alt="Bar chart of the table above",
    )
    sample = report["slow_methods_subsample"]
    st.caption(
        f"Each method explains the true class. Pointing-game tolerance {report['pointing_tolerance']} (Zhang et al., "
        f"ECCV 2016); 95 % bootstrap CIs. Score-CAM and SmoothGrad ran on a seeded subsample of at most "
        f"{sample['max_scans_per_subset']} scans per subset (seed {sample['seed']}). {OUTLINE_CITATION}"
    )
    st.markdown(sanity_sentence(report))
    gallery = report.get("gallery", [])
    for kind in ("best", "worst"):
        shown = [g for g in gallery if g["kind"] == kind]
        if shown:
            st.markdown(f"**{kind.capitalize()} cases** (by Grad-CAM's energy share inside the outline)")
            for item in shown:
                st.image(
                    str(artifact_dir() / item["file"]),
                    width="stretch",
                    alt=f"{kind.capitalize()} case: scan, outline and saliency maps of {item['scan']}",
                )


@st.cache_data(show_spinner=False, max_entries=32)
def localisation_png(subset: str, group: str) -> bytes:
    return png_bytes(localisation_chart(saliency_evaluation()["tables"][subset]["groups"][group]))


@st.fragment
def trust_section(report: dict) -> None:
    """Prediction sets and referral: when to trust an answer, from the committed `python -m training trust`."""
    st.subheader("When to trust an answer")
    st.markdown(caveat(report))
    st.dataframe(pd.DataFrame(trust_rows(report)), hide_index=True, width="stretch")
    ranking = st.radio(
        "Keep the scans that are most certain by", RANKINGS, horizontal=True, help=RANKING_HELP, key="ranking"
    )
    curves = pd.DataFrame(
        {
            TRUST_SUBSETS[name]: {round(100 * p["kept_share"]): p["accuracy"] for p in points}
            for name, points in report["coverage_curves"][ranking].items()
        }
    )
    st.line_chart(curves.sort_index(), x_label=f"% of scans kept (the most certain by {ranking})", y_label="accuracy")
    st.caption(
        "Selective prediction: the model answers only for its most confident scans and refers the rest. "
        "Prediction sets: Adaptive Prediction Sets (Romano et al., NeurIPS 2020), split-conformal on validation."
    )


if (trust := trust_report()) is not None:
    trust_section(trust)


@st.fragment
def robustness_section(report: dict) -> None:
    """Accuracy against severity for each acquisition change, from the committed `python -m training robustness`."""
    st.subheader("Scans from other scanners: robustness to acquisition changes")
    st.markdown(robustness_sentence(report))
    subset = st.radio("Scans", list(ROBUSTNESS_SUBSETS), format_func=ROBUSTNESS_SUBSETS.get, horizontal=True)
    curves = pd.DataFrame(accuracy_curves(report, subset)).sort_index()
    st.line_chart(curves, x_label="severity (0 = the scan as it is)", y_label="accuracy")
    st.dataframe(pd.DataFrame(robustness_rows(report, subset)), hide_index=True, width="stretch")
    st.caption(
        "Each scan is changed before the app's preprocessing, as a scan from another scanner would arrive: noise "
        "(Gaussian, and Rician as in magnitude MR images), blur, JPEG re-compression, gamma and contrast changes, a "
        "bias field (smooth coil-sensitivity shading), rotation and a lower acquisition resolution. *Flagged*: the "
        "share the not-an-MRI guard sets aside at the strongest setting."
    )


if (robustness := robustness_report()) is not None:
    robustness_section(robustness)
else:
    st.info("No robustness check has been committed. Run `python -m training robustness` (see README).")

if (guard := committed_json(OOD_EVALUATION_FILE)) is not None:
    st.subheader("Is it a brain MRI at all?")
    st.markdown(guard_sentence(guard))

saliency = saliency_evaluation()
if saliency is None:
    st.info("No saliency check has been committed. Run `python -m training saliency` (see README).")
else:
    saliency_section(saliency)
