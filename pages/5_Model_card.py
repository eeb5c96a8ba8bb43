"""Model card: intended use, data, training, metrics, known failure modes and the use of Testing."""

import streamlit as st

from model.i18n import N_, _
from model.report.card_report import (
    INTENDED_USE,
    failure_modes,
    metrics,
    precision_sentence,
    provenance,
    testing_history,
    training_procedure,
)
from pages.shared.layout import page_setup
from pages.shared.served import (
    audit,
    candidates,
    card,
    evaluation,
    guard_evaluation,
    precision_report,
    trust_report,
)

page_setup(N_("Model card"))
model_card, report = card(), evaluation()
st.caption(
    _(
        "Following Model Cards (Mitchell et al., FAT* 2019) and the CLAIM checklist (Radiology: AI, 2024 update); "
        "every figure below is read from the committed files in model/artifacts/."
    )
)
st.markdown(_(INTENDED_USE))
st.markdown(provenance(model_card, audit(), report))
st.markdown(training_procedure(model_card))
st.markdown(precision_sentence(precision_report()))
if report is None:
    st.info(_("No evaluation has been committed for this model. Run `python -m training evaluate` (see README)."))
    st.stop()
st.markdown(metrics(report))
st.markdown(
    _("**Known failure modes**")
    + "\n"
    + "\n".join(f"- {mode}" for mode in failure_modes(report, trust_report(), guard_evaluation()))
)
st.markdown(testing_history(candidates()))
