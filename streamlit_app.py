"""Entry point: navigation, and the Home page (what the app does, the four classes, the model card in short)."""

from urllib.parse import urlparse

import streamlit as st

from model.saliency_report import headline
from pages.shared.ui import NAVIGATED, card, evaluation, page_setup, saliency_evaluation


def home() -> None:
    page_setup("Brain-MRI tumour classifier")

    st.markdown(
        "Drop one or more brain MRI slices on the **Classify** page and a convolutional network says which of four "
        "classes it sees, with calibrated probabilities. **Explain** shows which parts of the scan drove the answer "
        "(Grad-CAM and friends). **Evaluation** and **Dataset** show, honestly, how good the model is on held-out "
        "scans — and how much of the public test split is a copy of its training split."
    )
    st.page_link("pages/1_Classify.py", label="Classify a scan", icon=":material/search:")

    st.subheader("The four classes")
    st.markdown(
        "- **Glioma** — a tumour growing from the brain's glial (supporting) cells, often inside the brain tissue.\n"
        "- **Meningioma** — a usually benign tumour of the meninges, the membranes around the brain; it presses on "
        "the brain from outside.\n"
        "- **Pituitary tumour** — a growth of the pituitary gland at the base of the brain, behind the nose.\n"
        "- **No tumour** — none of the above visible in this slice."
    )

    model_card = card()
    report = evaluation()
    st.subheader("The model in short")
    left, right = st.columns(2)
    with left:
        dataset = model_card.dataset
        st.markdown(
            f"- **Backbone:** Xception (ImageNet weights), {model_card.fine_tuning}"
            + f"; input {model_card.image_size}×{model_card.image_size} px, head-cropped and contrast-normalised "
            "grayscale\n"
            f"- **Training data:** {dataset['images']} scans of the Training split of Bhuvaji et al. "
            f"(Kaggle 2020) — {dataset['train_images']} to train, {dataset['validation_images']} to validate\n"
            f"- **Calibration:** temperature scaling on validation (T = {model_card.temperature:.2f})\n"
            f"- **Trained:** {model_card.created[:10]} on {model_card.machine['cpu_count']} CPU cores in "
            f"{model_card.timings['total_wall_s'] / 60:.0f} min\n"
            f"- **Runs on:** {'ONNX Runtime' if model_card.onnx else 'TensorFlow'} for classification, "
            "TensorFlow for the saliency maps"
        )
    with right:
        if report is None:
            st.info("No evaluation of this model has been committed yet.")
        else:
            full, clean = report["full"], report["leakage_clean"]
            low, high = full["accuracy_ci95"]
            st.metric(
                "Accuracy on the whole Testing split",
                f"{full['accuracy']:.1%}",
                help=f"{full['n']} images; 95 % bootstrap CI {low:.1%}–{high:.1%}",
            )
            st.caption(f"95 % CI {low:.1%} – {high:.1%} over {full['n']} images")
            low, high = clean["accuracy_ci95"]
            st.metric(
                "Accuracy on new test scans only (leakage-clean)",
                f"{clean['accuracy']:.1%}",
                help="Test images with no exact or near copy in the training split",
            )
            st.caption(f"95 % CI {low:.1%} – {high:.1%} over {clean['n']} images — the honest figure; see Evaluation")

    saliency = saliency_evaluation()
    if saliency is not None:
        st.subheader("Does it look at the tumour?")
        st.markdown(headline(saliency) + " Details and the other methods: **Evaluation**.")
    st.caption("Source code, training recipe and every figure shown here are reproducible from the repository.")


PAGES = [
    st.Page(home, title="Home", icon=":material/home:", default=True),
    st.Page("pages/1_Classify.py", title="Classify", icon=":material/search:", url_path="Classify"),
    st.Page("pages/2_Explain.py", title="Explain", icon=":material/local_fire_department:", url_path="Explain"),
    st.Page("pages/3_Evaluation.py", title="Evaluation", icon=":material/analytics:", url_path="Evaluation"),
    st.Page("pages/4_Dataset.py", title="Dataset", icon=":material/photo_library:", url_path="Dataset"),
    st.Page("pages/5_Model_card.py", title="Model card", icon=":material/badge:", url_path="Model_card"),
]


def case_alias() -> list[st.Page]:
    """URLs are case-insensitive: /evaluation gets a one-off page under that path that opens /Evaluation."""
    typed = urlparse(st.context.url or "").path.strip("/").rsplit("/", 1)[-1]
    target = next((p for p in PAGES if typed != p.url_path and typed.lower() == p.url_path.lower()), None)
    if target is None:
        return []

    def redirect() -> None:
        st.switch_page(target)

    return [st.Page(redirect, title=target.title, icon=target.icon, url_path=typed)]


st.session_state[NAVIGATED] = True
st.navigation(PAGES + case_alias()).run()
