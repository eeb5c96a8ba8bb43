"""Classify: drag in scans (or pick an example), get a class with calibrated probabilities."""

import pandas as pd
import streamlit as st

from model.batch import result_row
from model.errors import BrainMRIError
from model.figures import probability_bars
from pages.shared.ui import Result, classify, get_classifier, page_setup, sample_scans, show_library_error

page_setup("Classify MRI slices")

try:
    get_classifier()
except BrainMRIError as error:
    show_library_error(error)

names = get_classifier().card.class_names
uploads = st.file_uploader(
    "Drop brain MRI slices here (JPEG, PNG, BMP, TIFF, WebP or DICOM)",
    accept_multiple_files=True,
    help="Files stay in memory; nothing is written to disk.",
)
examples = st.multiselect("…or try bundled example scans", list(sample_scans()))

files: list[tuple[str, bytes]] = [(f.name, f.getvalue()) for f in uploads or []]
files += [(label, sample_scans()[label].read_bytes()) for label in examples]
if not files:
    st.info("Upload one or more scans, or pick an example, to see what the model makes of them.")
    st.stop()

rows = []
progress = st.progress(0.0, text="Classifying…")
for index, (name, data) in enumerate(files):
    result = classify(data)
    if isinstance(result, Result) and result.frames > 1:
        frame = st.slider(f"Frame of {name}", 0, result.frames - 1, result.frame, key=f"frame-{index}-{name}")
        result = classify(data, frame)
    progress.progress((index + 1) / len(files), text=f"Classified {index + 1} of {len(files)}")
    with st.container(border=True):
        if isinstance(result, str):
            st.error(f"**{name}** could not be classified. {result}", icon=":material/block:")
            rows.append(result_row(name, names, error=result))
            continue
        picture, verdict, chart = st.columns([1, 1.2, 1.6])
        picture.image(result.prepared, caption=f"{name} (as the model sees it)", width="stretch")
        with verdict:
            st.subheader(result.class_name)
            st.markdown(f"Confidence **{result.confidence:.1%}** · margin to the runner-up **{result.margin:.1%}**")
            if result.out_of_distribution:
                st.warning(
                    "This does not look like a brain MRI slice like those the model was trained on. "
                    "Treat the class above as **unreliable**.",
                    icon=":material/warning:",
                )
            if result.details.get("format") == "DICOM":
                st.caption(
                    f"DICOM · modality {result.details.get('modality')} · frame {result.frame + 1} of {result.frames}"
                )
        chart.pyplot(probability_bars(result.probabilities, names), clear_figure=True)
    rows.append(result_row(name, names, result))
progress.empty()

st.subheader("Results")
table = pd.DataFrame(rows)
st.dataframe(table, hide_index=True, width="stretch")
st.download_button("Download results as CSV", table.to_csv(index=False).encode(), "classifications.csv", "text/csv")
st.caption(
    f"Classified with {get_classifier().runtime}; the saliency maps on the Explain page come from the float32 "
    "Keras model, which the export was checked against."
)
