"""Classify: drag in scans (or pick an example), get a class with calibrated probabilities."""

from functools import partial

import pandas as pd
import streamlit as st

from model.core.predict import Classified
from model.core.series import SERIES_NAME, group_series
from model.core.trust import Reason
from model.core.volume import Plane
from model.errors import BrainMRIError
from model.i18n import N_, _, pct
from model.report.scan_type_report import accuracy_on_kind, describe, kind_name
from model.report.series_report import (
    NOT_MR,
    frame_word,
    likely_tumour_sentence,
    position_caption,
    skipped_sentence,
    slices_summary,
    tumour_slices,
    whole_label,
)
from model.report.trust_report import caveat, check_words, reason_text, referrals_summary, set_label
from model.schema.card import NO_TUMOUR
from pages.shared.layout import (
    WRAPPING_ROW_PX,
    class_label,
    page_setup,
    probability_chart,
    show_library_error,
    thumbnail_uri,
)
from pages.shared.report import pdf_report, results_csv
from pages.shared.scans import (
    EXAMPLES_KEY,
    Failure,
    classify_frames,
    classify_scan,
    clear_scans,
    explain_scan,
    kept_scans,
    pick_plane,
    plane_of,
    sample_scans,
    sync_scans,
    uploader_key,
)
from pages.shared.served import decision_of, get_classifier, served_trust, trust_report

page_setup(N_("Classify MRI slices"))

try:
    names = get_classifier().card.class_names
except BrainMRIError as error:
    show_library_error(error)
labels = [class_label(n) for n in names]
SCAN, FILE, CLASS, KIND, CONFIDENCE, CHECK = (
    _("scan"),
    _("file"),
    _("class"),
    _("scan type"),
    _("confidence"),
    _("check"),
)

widgets_continue = uploader_key() in st.session_state  # before the uploader is drawn (see sync_scans)
uploads = st.file_uploader(
    _("Drop brain MRI slices here (JPEG, PNG, BMP, TIFF, WebP, DICOM, NIfTI, or a .zip of one DICOM series)"),
    accept_multiple_files=True,
    help=_(
        "Files stay in this browser session's memory; nothing is written to disk. DICOM slices of one series, "
        "dropped together or zipped, are classified slice by slice as one series; a NIfTI volume (.nii, .nii.gz) "
        "slice by slice along the plane you pick."
    ),
    key=uploader_key(),
)
examples = st.multiselect(
    _("…or try bundled example scans"),
    list(sample_scans()),
    placeholder=_("Choose examples"),
    help=_(
        "Testing scans: a *copy of a training scan* also appears in Training (the model has seen it), a *new scan* "
        "does not; an example *with the radiologists' outline* shows it on the Explain page. The name in brackets "
        "is the file's name in the dataset."
    ),
    key=EXAMPLES_KEY,
)
sync_scans(
    group_series([(f.name, f.getvalue()) for f in uploads or []], _(SERIES_NAME))
    + [(label, sample_scans()[label].read_bytes()) for label in examples],
    widgets_continue,
)
files = kept_scans()
if not files:
    st.info(_("Upload one or more scans, or pick an example, to see what the model makes of them."))
    st.stop()


def frame_key(name: str, plane: Plane | None = None) -> str:
    """Per scan and plane: a volume cut along another plane has another number of slices."""
    return f"frame-{name}-{plane or plane_of(name)}"


def frame_of(name: str, plane: Plane | None = None) -> int | None:
    """The frame the visitor picked for a multi-frame file, series or volume in `plane` (the slider counts from 1)."""
    picked = st.session_state.get(frame_key(name, plane))
    return None if picked is None else picked - 1


results: dict[str, Classified | Failure] = {}
progress = st.progress(0.0, text=_("Classifying…"))
for index, (name, data) in enumerate(files.items()):
    results[name] = classify_scan(name, data, partial(frame_of, name))
    progress.progress(
        (index + 1) / len(files), text=_("Classified {done} of {total}").format(done=index + 1, total=len(files))
    )
progress.empty()


report = trust_report()
trust = served_trust()
SET = "" if report is None else set_label(report)  # the set's column and line label, e.g. "95 % set"


def summary_row(name: str, result: Classified) -> dict[str, object]:
    """A flagged input keeps its (greyed) class for the record, but no set or confidence."""
    row: dict[str, object] = {
        SCAN: thumbnail_uri(result.prepared),
        FILE: name,
        CLASS: class_label(result.prediction.class_name),
    }
    flagged = result.prediction.out_of_distribution
    if result.prediction.scan_type is not None:
        row[KIND] = "–" if flagged else kind_name(result.prediction.scan_type)
    decision = decision_of(result.prediction)
    if decision is not None:
        row[SET] = "–" if flagged else ", ".join(labels[i] for i in decision.members)
    return row | {CONFIDENCE: None if flagged else result.prediction.confidence, CHECK: check_words(result, decision)}


def summary_table(classified: dict[str, Classified]) -> str:
    """The compact table, filtered as the visitor asks; returns the file whose details to show."""
    everything, least_sure, flagged = _("All"), _("Least confident first"), _("Flagged")
    show = st.segmented_control(
        _("Show"),
        [everything, least_sure, flagged],
        default=everything,
        help=_("Flagged: not like a training MRI, or below the referral threshold"),
    )
    summary = pd.DataFrame([summary_row(name, result) for name, result in classified.items()])
    if show == least_sure:
        summary = summary.sort_values(CONFIDENCE)
    elif show == flagged:
        summary = summary[summary[CHECK] != ""]
    st.space("small")  # keeps the table's hover toolbar off the view buttons
    picked = st.dataframe(
        summary.assign(**{CONFIDENCE: pd.to_numeric(summary[CONFIDENCE]).round(3)}),  # one decimal of a percent
        hide_index=True,
        width="stretch",
        row_height=WRAPPING_ROW_PX,  # long checks, file names and sets wrap instead of running off the page
        on_select="rerun",
        selection_mode="single-row",
        key=f"summary-{show}",  # a selection belongs to one view: another view starts unselected
        # The check right after the class: on a phone the first columns are what fits.
        column_order=[SCAN, CLASS, CHECK, FILE, *(c for c in summary.columns if c not in (SCAN, CLASS, CHECK, FILE))],
        column_config={
            # Widths that add up, with the selection column, to the 938 px beside the sidebar at 1400 px (the margin
            # is in the details below); tests/test_browser.py checks that nothing scrolls sideways.
            SCAN: st.column_config.ImageColumn(SCAN, help=_("as the model sees it"), width=64),
            CLASS: st.column_config.TextColumn(CLASS, width=110),
            CHECK: st.column_config.TextColumn(CHECK, help=_("details below"), width=200),
            FILE: st.column_config.TextColumn(FILE, width=140),
            KIND: st.column_config.TextColumn(KIND, help=_("sequence, skull-stripped or not, plane"), width=110),
            SET: st.column_config.TextColumn(SET, width=160),
            # In the browser's locale, one decimal, as `pct` writes it elsewhere ("50.4%", "50,4 %" in French).
            CONFIDENCE: st.column_config.ProgressColumn(
                CONFIDENCE, format="percent", min_value=0, max_value=1, width=110
            ),
        },
    )
    rows_picked = [row for row in picked.selection.rows if row < len(summary)]
    return summary[FILE].iloc[rows_picked[0] if rows_picked else 0] if len(summary) else next(iter(classified))


classified = {name: result for name, result in results.items() if isinstance(result, Classified)}
failed = {name: failure for name, failure in results.items() if isinstance(failure, Failure)}
heading, clear = st.columns([4, 1], vertical_alignment="bottom")
heading.subheader(
    _("{count} scans this session").format(count=len(files)) if len(files) > 1 else _("1 scan this session")
)
if clear.button(_("Clear scans"), icon=":material/delete:", help=_("Forget this session's scans and results")):
    clear_scans()
    st.rerun()
for name, failure in failed.items():
    st.error(
        _("**{name}** could not be classified. {why}").format(name=name, why=failure.message()), icon=":material/block:"
    )
if classified:
    shown = summary_table(classified)


st.download_button(
    _("Download results as CSV"),
    results_csv(results, files),
    "classifications.csv",
    "text/csv",
    help=_("Stable English column names, one row per file or per slice, for scripts and spreadsheets"),
)
if classified:
    st.download_button(
        _("Download a PDF report"),
        lambda: pdf_report({name: (files[name], result) for name, result in classified.items()}),
        "brain_mri_report.pdf",
        "application/pdf",
        icon=":material/picture_as_pdf:",
        help=_(
            "A page per scan (the scan, its Grad-CAM, probabilities, set, scan type, referral and why) after a list "
            "of them all, with the model's version and the notice; in this page's language"
        ),
    )


def slice_by_slice(name: str, result: Classified) -> None:
    """The whole series or multi-frame file: each slice's class, in one line and one chart."""
    every = classify_frames(kept_scans()[name], plane_of(name))
    if isinstance(every, Failure):
        st.error(every.message())
        return
    line = slices_summary(
        labels,
        [r.prediction.class_index for r in every],
        [r.prediction.out_of_distribution for r in every],
        frames=not result.info.sliced,  # a multi-frame file, not a series or a volume
    )
    decisions = [d for d in (decision_of(r.prediction) for r in every) if d is not None]
    referrals = referrals_summary(decisions) if decisions else ""
    if referrals and len({d.reason for d in decisions}) == 1 and decisions[0].reason == Reason.UNVALIDATED:
        st.warning(referrals, icon=":material/warning:")  # the whole scan is of a kind never validated: say it once
        referrals = ""
    st.markdown(f"{whole_label(result.info)} · {line}" + (f" · {referrals}" if referrals else ""))
    no_tumour = get_classifier().card.class_dirs.index(NO_TUMOUR)
    likely = tumour_slices(
        [r.prediction.probabilities for r in every], no_tumour, [r.prediction.out_of_distribution for r in every]
    )
    if likely:
        st.markdown(likely_tumour_sentence(likely, frame_word(result.info)))
    chances = pd.DataFrame([r.prediction.probabilities for r in every], columns=labels, index=range(1, len(every) + 1))
    st.bar_chart(chances, height=280, x_label=frame_word(result.info), y_label=_("calibrated probability"), stack=True)


def verdict(name: str, result: Classified) -> None:
    """The class (greyed out when it cannot be trusted), its confidence, its prediction set."""
    unreliable = result.prediction.out_of_distribution or result.info.not_mr
    label = class_label(result.prediction.class_name)
    st.subheader(f":gray[{label}]" if unreliable else label)
    if result.prediction.out_of_distribution:
        st.warning(
            _(
                "This does not look like a brain MRI slice like those the model was trained on. Treat the class "
                "above as **unreliable**."
            ),
            icon=":material/warning:",
        )
    if result.prediction.out_of_distribution:
        return  # no scan type, confidence or set: they would mean nothing for an input unlike the training scans
    if result.prediction.scan_type is not None:
        st.markdown(describe(result.prediction.scan_type) + " " + accuracy_on_kind(result.prediction.scan_type, trust))
    st.markdown(
        _("Confidence **{confidence}** · margin to the runner-up **{margin}**").format(
            confidence=pct(result.prediction.confidence), margin=pct(result.prediction.margin)
        )
    )
    decision = decision_of(result.prediction)
    if decision is not None:
        members = ", ".join(labels[i] for i in decision.members)
        referred = f" · **{reason_text(decision)}**" if decision.referred else ""
        st.markdown(_("{label}: **{members}**").format(label=SET.capitalize(), members=members) + referred)


def details(name: str, result: Classified) -> None:
    """One scan in full: the image as the model saw it, the verdict, its set, the probabilities, actions."""
    picture, column = st.columns([1, 2])
    picture.image(
        result.prepared,
        caption=_("{name} as the model sees it: head cropped, contrast normalised").format(name=name),
        alt=_("MRI slice {name}, classified as {label}").format(
            name=name, label=class_label(result.prediction.class_name)
        ),
    )
    with column:
        verdict(name, result)
        if not result.prediction.out_of_distribution:
            st.altair_chart(probability_chart(labels, result.prediction.probabilities), width="stretch")
        word = frame_word(result.info)
        pick_plane(name, result, "classify")
        if result.frames > 1:
            slider = _("{word} of {name}").format(word=word.capitalize(), name=name)
            st.slider(slider, 1, result.frames, result.frame + 1, key=frame_key(name))
        where = position_caption(result.info, result.frame)
        if where:
            st.caption(where)
        if result.info.skipped_small:
            st.caption(skipped_sentence(result.info.skipped_small))
        if result.info.not_mr:
            st.warning(_(NOT_MR), icon=":material/warning:")
        if result.frames > 1:
            slice_by_slice(name, result)
        if st.button(_("Explain this scan"), key=f"explain-{name}", icon=":material/local_fire_department:"):
            explain_scan(name)


if classified:
    st.subheader(_("Details"))
    if len(classified) > 1:
        st.caption(_("Of {name}; pick a row of the table to see another scan.").format(name=shown))
    details(shown, classified[shown])

if report is not None:
    st.caption(caveat(report))
st.caption(
    _(
        "Classified with {runtime}. On the Explain page, Grad-CAM, Grad-CAM++ and Score-CAM come from the same "
        "session; SmoothGrad and the tf-keras-vis references from the float32 Keras model, which the export was "
        "checked against."
    ).format(runtime=get_classifier().runtime)
)
