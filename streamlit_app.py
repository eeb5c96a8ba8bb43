"""Entry point: the visitor's language, navigation, and the Home page (what the app does, the four classes, the
model card in short)."""

from urllib.parse import urlparse

import streamlit as st

from model.i18n import N_, _, number, pct
from model.report.card_report import fine_tuning
from model.report.saliency_report import by_construction, headline
from model.report.scan_type_report import validated_sentence
from pages.shared.layout import NAVIGATED, choose_language, page_setup, run_page
from pages.shared.served import candidates, card, evaluation, saliency_evaluation, served_trust
from pages.shared.sitemap import CLASSIFY
from pages.shared.sitemap import PAGES as SITE


def home() -> None:
    page_setup(N_("Brain-MRI tumour classifier"))

    st.markdown(
        _(
            "Drop one or more brain MRI slices on the **Classify** page and a convolutional network says which of "
            "four classes it sees, with calibrated probabilities. **Explain** shows which parts of the scan drove the "
            "answer (Grad-CAM and friends). **Evaluation** and **Dataset** show, honestly, how good the model is on "
            "held-out scans — and how much of the public test split is a copy of its training split."
        )
    )
    if st.button(_("Classify a scan"), icon=CLASSIFY.icon, type="primary"):  # the one thing a newcomer came to do
        st.switch_page(CLASSIFY.file)

    st.subheader(_("The four classes"))
    st.markdown(
        _(
            "- **Glioma** — a tumour growing from the brain's glial (supporting) cells, often inside the brain "
            "tissue.\n"
            "- **Meningioma** — a usually benign tumour of the meninges, the membranes around the brain; it presses "
            "on the brain from outside.\n"
            "- **Pituitary tumour** — a growth of the pituitary gland at the base of the brain, behind the nose.\n"
            "- **No tumour** — none of the above visible in this slice."
        )
    )
    model_card_section()
    saliency = saliency_evaluation()
    if saliency is not None:
        st.subheader(_("Does it look at the tumour?"))
        construction = by_construction(card(), candidates())
        st.markdown(
            " ".join([headline(saliency), construction, _("Details and the other methods: **Evaluation**.")]).replace(
                "  ", " "
            )
        )
    st.caption(_("Source code, training recipe and every figure shown here are reproducible from the repository."))


def model_card_section() -> None:
    """The model in short: how it was made (left) and the two accuracies that matter (right)."""
    model_card, report = card(), evaluation()
    st.subheader(_("The model in short"))
    left, right = st.columns(2)
    dataset, machine, timings = model_card.dataset, model_card.machine, model_card.timings
    left.markdown(
        _(
            "- **Backbone:** Xception (ImageNet weights), {fine_tuning}; input {size}×{size} px, head-cropped and "
            "contrast-normalised grayscale\n"
            "- **Training data:** {images} scans from {sources} (Sartaj: the Training split of Bhuvaji et al., Kaggle "
            "2020) — {train} to train, {validation} to validate\n"
            "- **Calibration:** temperature scaling on validation (T = {temperature})\n"
            "- **Trained:** {date} on {cores} CPU cores in {minutes} min\n"
            "- **Runs on:** {runtime} for classification and the class activation maps (Grad-CAM, Grad-CAM++, "
            "Score-CAM); TensorFlow, in a worker process started on first use and stopped when idle, for SmoothGrad"
        ).format(
            fine_tuning=fine_tuning(model_card),
            size=model_card.image_size,
            images="?" if dataset is None else dataset.images,
            sources="?" if dataset is None else ", ".join(dataset.sources or ["sartaj"]),
            train="?" if dataset is None else dataset.train_images,
            validation="?" if dataset is None else dataset.validation_images,
            temperature=number(model_card.temperature, 2),
            date=model_card.created[:10],
            cores="?" if machine is None else machine.cpu_count,
            minutes="?" if timings is None else round(timings.total_wall_s / 60),
            runtime="ONNX Runtime" if model_card.onnx else "TensorFlow",
        )
    )
    with right:
        if report is None:
            st.info(_("No evaluation of this model has been committed yet."))
            return
        full, clean = report.full, report.leakage_clean
        low, high = full.accuracy_ci95
        st.metric(_("Accuracy on the whole Testing split"), pct(full.accuracy))
        st.caption(_("95 % CI {low} – {high} over {n} images").format(low=pct(low), high=pct(high), n=full.n))
        if clean is None:
            return
        low, high = clean.accuracy_ci95
        st.metric(
            _("Accuracy on new test scans only (leakage-clean)"),
            pct(clean.accuracy),
            help=_("Test images with no exact or near copy in the training split"),
        )
        st.caption(
            _("95 % CI {low} – {high} over {n} images — the honest figure; see Evaluation").format(
                low=pct(low), high=pct(high), n=clean.n
            )
        )
        trust = served_trust()
        if trust is not None and (validated := validated_sentence(trust)):
            st.caption(validated)


st.session_state[NAVIGATED] = True
choose_language()
PAGES = [
    st.Page(home, title=_("Home"), icon=":material/home:", default=True),
    *(st.Page(p.file, title=_(p.title), icon=p.icon, url_path=p.url_path) for p in SITE),
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


run_page(st.navigation(PAGES + case_alias()))
