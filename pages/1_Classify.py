"""Classify: drag in scans (or pick an example), get a class with calibrated probabilities."""

import pandas as pd
import streamlit as st

from model.batch import result_row
from model.errors import BrainMRIError
from model.series import group_series, slices_summary
from model.trust import Trust, caveat, set_label
from pages.shared.ui import (
    Result,
    classify,
    classify_frames,
    explain_scan,
    frame_word,
    get_classifier,
    keep_scans,
    kept_scans,
    page_setup,
    sample_scans,
    show_library_error,
    thumbnail_uri,
    trust_report,
)

NOT_MRI = "not like a training MRI"
REFER = "low confidence: refer"

page_setup("Classify MRI slices")

try:
    names = get_classifier().card.class_names
except BrainMRIError as error:
    show_library_error(error)

uploads = st.file_uploader(
    "Drop brain MRI slices here (JPEG, PNG, BMP, TIFF, WebP, DICOM, or a .zip of one DICOM series)",
    accept_multiple_files=True,
    help="Files stay in this browser session's memory; nothing is written to disk. DICOM slices of one series, "
    "dropped together or zipped, are classified slice by slice as one series.",
)
examples = st.multiselect(
    "…or try bundled example scans",
    list(sample_scans()),
    help="Testing scans: a *copy of a training scan* also appears in Training (the model has seen it), a *new "
    "scan* does not; an example *with the radiologists' outline* shows it on the Explain page. The name in "
    "brackets is the file's name in the dataset.",
)
keep_scans(group_series([(f.name, f.getvalue()) for f in uploads or []]))
keep_scans([(label, sample_scans()[label].read_bytes()) for label in examples])
files = kept_scans()
if not files:
    st.info("Upload one or more scans, or pick an example, to see what the model makes of them.")
    st.stop()


def frame_of(name: str) -> int | None:
    """The frame the visitor picked for a multi-frame DICOM (the slider counts from 1)."""
    picked = st.session_state.get(f"frame-{name}")
    return None if picked is None else picked - 1


results: dict[str, Result | str] = {}
progress = st.progress(0.0, text="Classifying…")
for index, (name, data) in enumerate(files.items()):
    results[name] = classify(data, frame_of(name))
    progress.progress((index + 1) / len(files), text=f"Classified {index + 1} of {len(files)}")
progress.empty()


report = trust_report()
trust = None if report is None else Trust.from_report(report)


def not_mr_modality(result: Result) -> str | None:
    """The modality of a DICOM file that says it is not MR (ultrasound, CT...), else None."""
    modality = result.details.get("modality")
    return modality if result.details.get("format", "").startswith("DICOM") and modality not in (None, "MR") else None


def checks(result: Result) -> str:
    flags = [NOT_MRI] if result.out_of_distribution else []
    if not_mr_modality(result):
        flags.append(f"DICOM modality {not_mr_modality(result)}, not MR")
    if trust is not None and trust.referred(result.confidence):
        flags.append(REFER)
    return "; ".join(flags)


def summary_row(name: str, result: Result) -> dict[str, object]:
    row = {"scan": thumbnail_uri(result.prepared), "file": name, "class": result.class_name}
    if trust is not None:
        row[set_label(report)] = ", ".join(names[i] for i in trust.set_for(result.probabilities))
    return row | {"confidence": result.confidence, "margin": result.margin, "check": checks(result)}


classified = {name: result for name, result in results.items() if isinstance(result, Result)}
failed = {name: message for name, message in results.items() if isinstance(message, str)}
heading, clear = st.columns([4, 1], vertical_alignment="bottom")
heading.subheader(f"{len(files)} scan{'s' * (len(files) > 1)} this session")
if clear.button("Clear scans", icon=":material/delete:", help="Forget this session's scans and results"):
    files.clear()
    st.rerun()
for name, message in failed.items():
    st.error(f"**{name}** could not be classified. {message}", icon=":material/block:")
if classified:
    show = st.segmented_control(
        "Show",
        ["All", "Least confident first", "Flagged"],
        default="All",
        help="Flagged: not like a training MRI, or below the referral threshold",
    )
    summary = pd.DataFrame([summary_row(name, result) for name, result in classified.items()])
    if show == "Least confident first":
        summary = summary.sort_values("confidence")
    elif show == "Flagged":
        summary = summary[summary["check"] != ""]
    picked = st.dataframe(
        summary,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="summary",
        column_config={
            "scan": st.column_config.ImageColumn("scan", help="as the model sees it", width="small"),
            "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1),
            "margin": st.column_config.NumberColumn("margin", format="percent", help="top probability minus the next"),
            "file": st.column_config.TextColumn("file", width="medium"),
            "check": st.column_config.TextColumn("check", help="details below", width="medium"),
        },
    )
    rows_picked = picked.selection.rows
    shown = summary["file"].iloc[rows_picked[0] if rows_picked else 0] if len(summary) else next(iter(classified))
rows = [
    result_row(n, names, r, frame=r.frame + 1 if r.frames > 1 else None)
    if isinstance(r, Result)
    else result_row(n, names, error=r)
    for n, r in results.items()
]
st.download_button(
    "Download results as CSV",
    pd.DataFrame(rows).to_csv(index=False).encode(),
    "classifications.csv",
    "text/csv",
    help="Stable English column names, one row per file, for scripts and spreadsheets",
)


def slice_by_slice(name: str, result: Result) -> None:
    """The whole series or multi-frame file: each slice's class, in one line and one chart."""
    every = classify_frames(kept_scans()[name])
    if isinstance(every, str):
        st.error(every)
        return
    word = frame_word(result)
    st.markdown(
        f"**Whole {'series' if word == 'slice' else 'file'}** · "
        + slices_summary(names, [r.class_index for r in every], [r.out_of_distribution for r in every])
    )
    chances = pd.DataFrame([r.probabilities for r in every], columns=names, index=range(1, len(every) + 1))
    st.area_chart(chances, height=160, x_label=word, y_label="calibrated probability")


def details(name: str, result: Result) -> None:
    """One scan in full: the image as the model saw it, the verdict, its set, the probabilities, actions."""
    picture, verdict = st.columns([1, 2])
    picture.image(
        result.prepared,
        caption=f"{name} as the model sees it: head cropped, contrast normalised",
        alt=f"MRI slice {name}, classified as {result.class_name}",
    )
    with verdict:
        unreliable = result.out_of_distribution or not_mr_modality(result)
        st.subheader(f":gray[{result.class_name}]" if unreliable else result.class_name)
        if result.out_of_distribution:
            st.warning(
                "This does not look like a brain MRI slice like those the model was trained on. "
                "Treat the class above as **unreliable**.",
                icon=":material/warning:",
            )
        st.markdown(f"Confidence **{result.confidence:.1%}** · margin to the runner-up **{result.margin:.1%}**")
        if trust is not None:
            members = ", ".join(names[i] for i in trust.set_for(result.probabilities))
            referred = " · **below the referral threshold**" if trust.referred(result.confidence) else ""
            st.markdown(f"{set_label(report).capitalize()}: **{members}**{referred}")
        chances = pd.DataFrame({"calibrated probability": result.probabilities}, index=names)
        st.bar_chart(chances, horizontal=True, height=170, x_label="calibrated probability", y_label="")
        if result.frames > 1:
            st.slider(
                f"{frame_word(result).capitalize()} of {name}", 1, result.frames, result.frame + 1, key=f"frame-{name}"
            )
        if result.details.get("format", "").startswith("DICOM"):
            st.caption(
                f"{result.details['format']} · modality {result.details.get('modality')} · "
                f"{frame_word(result)} {result.frame + 1} of {result.frames}"
            )
        if not_mr_modality(result):
            st.warning(
                f"This DICOM file says it is not an MR image (modality {not_mr_modality(result)}): the model only "
                "knows brain MRI, so the class above means nothing here.",
                icon=":material/warning:",
            )
        if result.frames > 1:
            slice_by_slice(name, result)
        if st.button("Explain this scan", key=f"explain-{name}", icon=":material/local_fire_department:"):
            explain_scan(name)


if classified:
    st.subheader("Details")
    if len(classified) > 1:
        st.caption(f"Of {shown}; pick a row of the table to see another scan.")
    details(shown, classified[shown])

if report is not None:
    st.caption(caveat(report))
st.caption(
    f"Classified with {get_classifier().runtime}; the saliency maps on the Explain page come from the float32 "
    "Keras model, which the export was checked against."
)
