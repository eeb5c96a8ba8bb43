"""Explain: saliency maps (Grad-CAM, Grad-CAM++, Score-CAM, SmoothGrad) for one scan and one class."""

import matplotlib
import streamlit as st

from model.errors import BrainMRIError
from model.explain import GRAD_CAM, METHODS, overlay
from model.preprocess import to_model_input
from pages.shared.ui import (
    Result,
    classify,
    content_id,
    get_classifier,
    get_explainer,
    page_setup,
    png_bytes,
    sample_scans,
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

names = get_classifier().card.class_names
upload = st.file_uploader("Drop one brain MRI slice", accept_multiple_files=False)
examples = sample_scans()
example = st.selectbox(
    "…or use an example scan",
    list(examples),
    index=0 if upload is None else None,
    placeholder="(using the uploaded file)",
)
if upload is not None:
    name, data = upload.name, upload.getvalue()
elif example is not None:
    name, data = example, examples[example].read_bytes()
else:
    st.info("Upload a scan or pick an example.")
    st.stop()

result = classify(data)
if not isinstance(result, Result):
    st.error(f"**{name}** could not be explained. {result}", icon=":material/block:")
    st.stop()

controls = st.columns(4)
target = controls[0].selectbox(
    "Explain the class", names, index=result.class_index, help="Default: the predicted class"
)
methods = controls[1].multiselect("Methods", METHODS, default=[GRAD_CAM])
opacity = controls[2].slider("Overlay opacity", 0.0, 1.0, 0.45, 0.05)
colormap = controls[3].selectbox("Colour map", ["jet", "turbo", "inferno", "viridis", "magma"])
reference = st.toggle(
    "Use tf-keras-vis' own implementations (slower; the default compiled maps are tested to agree with them)",
    value=False,
)
st.markdown(
    f"Prediction: **{result.class_name}** ({result.confidence:.1%}). "
    f"Explaining **{target}** ({result.probabilities[names.index(target)]:.1%})."
)
if result.out_of_distribution:
    st.warning(
        "This does not look like a brain MRI slice like those the model was trained on; "
        "the prediction and its explanation are unreliable.",
        icon=":material/warning:",
    )

cache = st.session_state.setdefault("explanations", {})
for method in methods:
    key = (content_id(data), names.index(target), method, reference)
    if key not in cache:
        bar = st.progress(0.0, text=f"Computing {method}…")
        cache[key] = get_explainer().explain(
            to_model_input(result.prepared),
            names.index(target),
            method,
            progress=lambda done, m=method, b=bar: b.progress(done, text=f"Computing {m}… {done:.0%}"),
            reference=reference,
        )
        bar.empty()
    explanation = cache[key]
    blended = overlay(result.prepared, explanation.heatmap, opacity, colormap)
    with st.container(border=True):
        st.subheader(method)
        left, right = st.columns(2)
        left.image(result.prepared, caption="What the model sees", width="stretch")
        right.image(blended, caption=f"{method} for {target} · {explanation.seconds:.2f} s", width="stretch")
        st.download_button(
            f"Download {method} overlay (PNG)",
            png_bytes(blended),
            f"{name.rsplit('.', 1)[0]}_{method}_{target}.png".replace(" ", "_"),
            "image/png",
            key=f"download-{method}",
        )
st.caption(
    f"Colour scale: {colormap} — low to high relevance, as in Matplotlib's "
    f"`{matplotlib.colormaps[colormap].name}` colour map."
)
