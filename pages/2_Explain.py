"""Explain: saliency maps (Grad-CAM, Grad-CAM++, Score-CAM, SmoothGrad) for one scan and one class."""

import pandas as pd
import streamlit as st

from model.errors import BrainMRIError
from model.figures import explanation_figure
from model.localisation import area_share, scores
from model.maps import GRAD_CAM, METHODS
from model.preprocess import to_model_input
from model.saliency_report import OUTLINE_CITATION
from pages.shared.ui import (
    Result,
    classify,
    content_id,
    frame_word,
    get_classifier,
    get_explainer,
    keep_scans,
    kept_scans,
    page_setup,
    png_bytes,
    remembered_explanation,
    saliency_evaluation,
    sample_scans,
    scan_outline,
    show_library_error,
)

page_setup("Explain a prediction")
st.caption(
    "Saliency maps show which regions moved the class score. They are a debugging aid for the model, "
    "not a segmentation of the tumour."
)

try:
    get_explainer()
except BrainMRIError as error:
    show_library_error(error)

model_card = get_classifier().card
names = model_card.class_names
upload = st.file_uploader("Drop one brain MRI slice", accept_multiple_files=False)
if upload is not None and st.session_state.get("explain_upload") != upload.file_id:
    st.session_state["explain_upload"] = upload.file_id
    keep_scans([(upload.name, upload.getvalue())])
    st.session_state["explain_scan"] = upload.name
kept, examples = kept_scans(), sample_scans()
options = list(kept) + [label for label in examples if label not in kept]
if not options:
    st.info("Upload a scan to see which parts of it drove the model's answer.")
    st.stop()
wanted = st.session_state.get("explain_scan")
name = st.selectbox(
    "Scan to explain: this session's scans (Classify keeps them), then the bundled examples",
    options,
    index=options.index(wanted) if wanted in options else 0,
)
st.session_state["explain_scan"] = name
data = kept[name] if name in kept else examples[name].read_bytes()

result = classify(data)
if isinstance(result, Result) and result.frames > 1:
    word = frame_word(result).capitalize()
    frame = st.slider(f"{word} of {name}", 1, result.frames, result.frame + 1, key=f"explain-frame-{name}")
    result = classify(data, frame - 1)
if not isinstance(result, Result):
    st.error(f"**{name}** could not be explained. {result}", icon=":material/block:")
    st.stop()
if result.frames > 1:
    st.caption(f"Explaining {frame_word(result)} {result.frame + 1} of {result.frames}")

controls = st.columns(4)
target = controls[0].selectbox(
    "Explain the class", names, index=result.class_index, help="Default: the predicted class"
)
methods = controls[1].multiselect("Methods", METHODS, default=[GRAD_CAM])
opacity = controls[2].slider("Overlay opacity", 0.0, 1.0, 0.45, 0.05)
colormap = controls[3].selectbox("Colour map", ["jet", "turbo", "inferno", "viridis", "magma"])
outline = scan_outline(data)
saliency = saliency_evaluation()
switches = st.columns(3)
absolute = switches[0].toggle(
    "Common scale for every scan and class",
    value=False,
    disabled=saliency is None,
    help="Off: each map is stretched to its own maximum, so even a class at 0 % looks hot. On: 1 on the colour "
    "bar is the 95th percentile of this method's maps on held-out validation scans, so weak evidence looks weak.",
)
show_outline = switches[1].toggle("Draw the radiologists' outline", value=True, disabled=outline is None)
reference = switches[2].toggle(
    "Use tf-keras-vis' own implementations",
    value=False,
    help="Slower; the default compiled maps are tested to agree with them.",
)
probability = result.probabilities[names.index(target)]
st.markdown(
    f"Prediction: **{result.class_name}** ({result.confidence:.1%}). Explaining **{target}** ({probability:.1%})."
)
if result.out_of_distribution:
    st.warning(
        "This does not look like a brain MRI slice like those the model was trained on; "
        "the prediction and its explanation are unreliable.",
        icon=":material/warning:",
    )
if not methods:
    st.info("Choose at least one method.")
    st.stop()

explanations = {}
for method in methods:
    key = (content_id(data), names.index(target), method, reference)
    bar = st.empty()

    def compute(method=method, bar=bar):
        progress = bar.progress(0.0, text=f"Computing {method}…")
        return get_explainer().explain(
            to_model_input(result.prepared),
            names.index(target),
            method,
            progress=lambda done: progress.progress(done, text=f"Computing {method}… {done:.0%}"),
            reference=reference,
        )

    explanations[method] = remembered_explanation(key, compute)
    bar.empty()

scales = (saliency or {}).get("absolute_scales", {})
maps = {m: e.on_scale(scales[m]) if absolute and m in scales else e.heatmap for m, e in explanations.items()}
drawn = outline if show_outline else None
titles = {}
for method in methods:
    titles[method] = f"{method} · {target} {probability:.1%}"
    if drawn is not None:
        hit = scores(explanations[method].heatmap, outline)
        titles[method] += f"\n{'hit' if hit['pointing_game'] >= 0.5 else 'miss'} · {hit['energy_share']:.0%} inside"
scale_label = (
    "relevance (1 = 95th percentile of this method on validation)" if absolute else "relevance (map's own max = 1)"
)
footer = (
    f"{name} · explained class {target} ({probability:.1%}) · model {model_card.weights_sha256[:12]} · "
    + ("outline: Cheng et al., figshare 1512427, CC BY 4.0 · " if drawn is not None else "")
    + "research demo, not a medical device"
)
picture = png_bytes(explanation_figure(result.prepared, maps, titles, drawn, colormap, opacity, footer, scale_label))
st.image(
    picture,
    width="content" if len(methods) < 3 else "stretch",
    alt=f"{name} with the {', '.join(methods)} map{'s' * (len(methods) > 1)} for {target}"
    + (" and the radiologists' outline" if drawn is not None else ""),
)
st.download_button(
    "Download this figure (PNG, with legend, class, probability, methods and model hash)",
    picture,
    f"{name.rsplit('.', 1)[0]}_{target}_{'-'.join(methods)}.png".replace(" ", "_"),
    "image/png",
)
st.caption(" · ".join(f"{m}: {e.seconds:.2f} s" for m, e in explanations.items()))

if outline is None:
    st.caption(
        "No radiologists' outline for this file: the app ships outlines only for the dataset's scans that are "
        "copies of the figshare slices, recognised by their exact bytes (no_tumor scans have none)."
    )
else:
    st.markdown(f"**Against the radiologists' outline** (white; it covers {area_share(outline):.1%} of the image)")
    rows = [{"method": m, **scores(e.heatmap, outline)} for m, e in explanations.items()]
    columns = {"pointing_game": "peak on outline", "energy_share": "energy inside", "auprc": "AUPRC"}
    table = pd.DataFrame(rows).rename(columns=columns)
    table["peak on outline"] = table["peak on outline"].map(lambda v: "yes" if v >= 0.5 else "no")
    st.dataframe(table.style.format({"energy inside": "{:.0%}", "AUPRC": "{:.2f}"}), hide_index=True, width="stretch")
    st.caption(OUTLINE_CITATION + " How often each method lands on the outline across held-out scans: Evaluation.")
