"""Explain: saliency maps (Grad-CAM, Grad-CAM++, Score-CAM, SmoothGrad) for one scan and one class."""

from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from model.core.localisation import area_share, lands_on_outline, scores
from model.core.maps import GRAD_CAM, METHODS, Explanation
from model.core.predict import Classified
from model.core.preprocess import to_model_input
from model.core.series import Upload
from model.core.tensorflow_worker import IDLE_S
from model.errors import BrainMRIError
from model.i18n import N_, _, number, pct
from model.report.figures import explanation_figure
from model.report.saliency_report import OUTLINE_CITATION
from model.report.scan_type_report import accuracy_on_kind, describe
from model.report.series_report import frame_word
from pages.shared.layout import class_label, page_setup, png_bytes, show_library_error
from pages.shared.layout import table as show_table
from pages.shared.report import pdf_report
from pages.shared.scans import (
    Failure,
    classify,
    classify_scan,
    content_id,
    keep_scans,
    kept_scans,
    pick_plane,
    plane_of,
    remembered_explanation,
    sample_scans,
)
from pages.shared.served import get_classifier, get_explainer, saliency_evaluation, scan_outline, served_trust

FAINT = 0.25  # a map whose peak on the common scale is below this looks nearly blank: the page says why

page_setup(N_("Explain a prediction"))
st.caption(
    _(
        "Saliency maps show which regions moved the class score. They are a debugging aid for the model, not a "
        "segmentation of the tumour."
    )
)

try:
    get_explainer()
except BrainMRIError as error:
    show_library_error(error)

model_card = get_classifier().card
names = model_card.class_names


def chosen_scan() -> tuple[str, Upload]:
    """An upload, one of this visitor's scans (Classify keeps them) or a bundled example."""
    upload = st.file_uploader(_("Drop one brain MRI slice"), accept_multiple_files=False)
    if upload is not None and st.session_state.get("explain_upload") != upload.file_id:
        st.session_state["explain_upload"] = upload.file_id
        keep_scans([(upload.name, upload.getvalue())])
        st.session_state["explain_scan"] = upload.name
    kept, examples = kept_scans(), sample_scans()
    options = list(kept) + [label for label in examples if label not in kept]
    if not options:
        st.info(_("Upload a scan to see which parts of it drove the model's answer."))
        st.stop()
    wanted = st.session_state.get("explain_scan")
    name = st.selectbox(
        _("Scan to explain: this session's scans (Classify keeps them), then the bundled examples"),
        options,
        index=options.index(wanted) if wanted in options else 0,
    )
    st.session_state["explain_scan"] = name
    return name, kept[name] if name in kept else examples[name].read_bytes()


def explained_result(name: str, data: Upload) -> Classified:
    """The scan classified, in the plane and slice the visitor picks for a volume, series or multi-frame file."""
    result = classify_scan(name, data)
    if isinstance(result, Classified):
        pick_plane(name, result, "explain")
    if isinstance(result, Classified) and result.frames > 1:
        label = _("{word} of {name}").format(word=frame_word(result.info).capitalize(), name=name)
        frame = st.slider(label, 1, result.frames, result.frame + 1, key=f"explain-frame-{name}-{plane_of(name)}")
        result = classify(data, frame - 1, plane_of(name))
    if not isinstance(result, Classified):
        st.error(
            _("**{name}** could not be explained. {why}").format(name=name, why=result.message()),
            icon=":material/block:",
        )
        st.stop()
    if result.frames > 1:
        st.caption(
            _("Explaining {word} {number} of {total}").format(
                word=frame_word(result.info), number=result.frame + 1, total=result.frames
            )
        )
    if result.prediction.scan_type is not None:
        st.caption(
            describe(result.prediction.scan_type) + " " + accuracy_on_kind(result.prediction.scan_type, served_trust())
        )
    return result


def computed_explanations(
    result: Classified, methods: list[str], class_index: int, reference: bool, content: str
) -> dict[str, Explanation]:
    """Each method's map of the scan for the class, with a progress bar; this visitor's recent maps are reused."""
    explanations = {}
    for method in methods:
        bar = st.empty()
        compute = partial(explanation_with_progress, result, class_index, method, reference, bar)
        try:
            explanations[method] = remembered_explanation((content, class_index, method, reference), compute)
        except BrainMRIError as error:  # the TensorFlow worker failed: the other maps still show
            st.error(Failure.of(error).message(), icon=":material/block:")
        bar.empty()
    return explanations


def explanation_with_progress(
    result: Classified, class_index: int, method: str, reference: bool, bar: Any
) -> Explanation:
    """One map, its progress shown in `bar`; TensorFlow loaded first (with a spinner) when the method needs it."""
    explainer = get_explainer()
    if explainer.needs_tensorflow(method, reference) and not explainer.tensorflow_ready:
        with st.spinner(
            _("Starting TensorFlow for {method} in a worker process (it stops after {minutes} idle minutes)…").format(
                method=method, minutes=round(IDLE_S / 60)
            )
        ):
            explainer.tensorflow_maps()
    text = _("Computing {method}…").format(method=method)
    progress = bar.progress(0.0, text=text)
    return explainer.explain(
        to_model_input(result.prepared),
        class_index,
        method,
        progress=lambda done: progress.progress(done, text=f"{text} {pct(done, 0)}"),
        reference=reference,
    )


def outline_section(outline: np.ndarray | None, explanations: dict[str, Explanation]) -> None:
    """Each map against the radiologists' outline, when the app has one for this scan."""
    if outline is None:
        st.caption(
            _(
                "No radiologists' outline for this file: the app ships outlines only for the dataset's scans that are "
                "copies of the figshare slices, recognised by their exact bytes (no_tumor scans have none)."
            )
        )
        return
    st.markdown(
        _("**Against the radiologists' outline** (white; it covers {share} of the image)").format(
            share=pct(area_share(outline))
        )
    )
    peak, energy = _("peak on outline"), _("energy inside")
    found = {m: scores(e.heatmap, outline) for m, e in explanations.items()}
    rows = [
        {
            _("method"): m,
            peak: _("yes") if lands_on_outline(s) else _("no"),
            energy: pct(s["energy_share"], 0),
            "AUPRC": number(s["auprc"], 2),
        }
        for m, s in found.items()
    ]
    table = pd.DataFrame(rows)
    show_table(table)
    st.caption(
        _(OUTLINE_CITATION) + " " + _("How often each method lands on the outline across held-out scans: Evaluation.")
    )


name, data = chosen_scan()
result = explained_result(name, data)


controls = st.columns(3)
target = controls[0].selectbox(
    _("Explain the class"),
    names,
    index=result.prediction.class_index,
    format_func=class_label,
    help=_("Default: the predicted class"),
)
opacity = controls[1].slider(_("Overlay opacity"), 0.0, 1.0, 0.45, 0.05)
colormap = controls[2].selectbox(_("Colour map"), ["jet", "turbo", "inferno", "viridis", "magma"])
# A row of its own: four method chips fit, where a column would scroll them out of sight.
methods = st.multiselect(_("Methods"), METHODS, default=[GRAD_CAM], placeholder=_("Choose a method"))
outline = scan_outline(data)
saliency = saliency_evaluation()
# One switch per line: side by side, the longer (French) labels were cut.
absolute = st.toggle(
    _("Common scale for every scan and class"),
    value=False,
    disabled=saliency is None,
    help=_(
        "Off: each map is stretched to its own maximum, so even a class at 0 % looks hot. On: 1 on the colour bar "
        "is the 95th percentile of this method's maps on held-out validation scans, so weak evidence looks weak."
    ),
)
show_outline = st.toggle(_("Draw the radiologists' outline"), value=True, disabled=outline is None)
reference = st.toggle(
    _("Use tf-keras-vis' own implementations"),
    value=False,
    help=_("Slower; the default compiled maps are tested to agree with them."),
)
probability = result.prediction.probabilities[names.index(target)]
st.markdown(
    _("Prediction: **{predicted}** ({confidence}). Explaining **{target}** ({probability}).").format(
        predicted=class_label(result.prediction.class_name),
        confidence=pct(result.prediction.confidence),
        target=class_label(target),
        probability=pct(probability),
    )
)
if result.prediction.out_of_distribution:
    st.warning(
        _(
            "This does not look like a brain MRI slice like those the model was trained on; the prediction and its "
            "explanation are unreliable."
        ),
        icon=":material/warning:",
    )
if not methods:
    st.info(_("Choose at least one method."))
    st.stop()

explanations = computed_explanations(result, methods, names.index(target), reference, content_id(data))
methods = [m for m in methods if m in explanations]  # a map that could not be drawn has said why above
if not methods:
    st.stop()

scales = saliency.absolute_scales if saliency is not None else {}
maps = {m: e.on_scale(scales[m]) if absolute and m in scales else e.heatmap for m, e in explanations.items()}
faint = [m for m in maps if absolute and m in scales and maps[m].max() < FAINT]
if faint:
    st.info(
        _(
            "On the common scale, {methods}: the evidence for {target} is weaker than on most validation scans "
            "(the map peaks below {faint} of this method's 95th percentile), so the map looks nearly blank. A high "
            "probability can rest on weak, spread-out evidence; switch the common scale off to see its shape."
        ).format(methods=", ".join(faint), target=class_label(target), faint=pct(FAINT, 0)),
        icon=":material/info:",
    )
drawn = outline if show_outline else None
titles = {}
for method in methods:
    titles[method] = f"{method} · {class_label(target)} {pct(probability)}"
    if drawn is not None:
        found = scores(explanations[method].heatmap, drawn)
        landed = _("hit") if lands_on_outline(found) else _("miss")
        titles[method] += "\n" + _("{landed} · {share} inside").format(
            landed=landed, share=pct(found["energy_share"], 0)
        )
scale_label = (
    _("relevance (1 = 95th percentile of this method on validation)")
    if absolute
    else _("relevance (map's own max = 1)")
)
footer = (
    _("{name} · explained class {target} ({probability}) · model {model}").format(
        name=name, target=class_label(target), probability=pct(probability), model=model_card.weights_sha256[:12]
    )
    + " · "
    + (_("outline: Cheng et al., figshare 1512427, CC BY 4.0") + " · " if drawn is not None else "")
    + _("research demo, not a medical device")
)
picture = png_bytes(explanation_figure(result.prepared, maps, titles, drawn, colormap, opacity, footer, scale_label))
st.image(
    picture,
    width="content" if len(methods) < 3 else "stretch",
    alt=_("{name} with the {methods} map(s) for {target}").format(
        name=name, methods=", ".join(methods), target=class_label(target)
    )
    + (_(" and the radiologists' outline") if drawn is not None else ""),
)
st.download_button(
    _("Download this figure (PNG, with legend, class, probability, methods and model hash)"),
    picture,
    f"{name.rsplit('.', 1)[0]}_{target}_{'-'.join(methods)}.png".replace(" ", "_"),
    "image/png",
)
st.download_button(
    _("Download a PDF report of this scan"),
    lambda: pdf_report({name: (data, result)}),
    f"{name.rsplit('.', 1)[0]}_report.pdf".replace(" ", "_"),
    "application/pdf",
    icon=":material/picture_as_pdf:",
    help=_("The scan, its Grad-CAM for the predicted class, probabilities, set, scan type and referral, on one page"),
)
st.caption(" · ".join(f"{m}: {number(e.seconds, 2)} s" for m, e in explanations.items()))

outline_section(outline, explanations)
