"""The app's pages, written once: the entry point builds its navigation from them; AppTest, the browser tests and
the screenshots visit them."""

from __future__ import annotations

from dataclasses import dataclass

from model.i18n import N_

ENTRY_POINT = "streamlit_app.py"  # the Home page and the navigation


@dataclass(frozen=True)
class Page:
    file: str  # from the repository root
    title: str  # English, translated where it is shown
    icon: str
    url_path: str


CLASSIFY = Page("pages/1_Classify.py", N_("Classify"), ":material/search:", "Classify")
PAGES = (
    CLASSIFY,
    Page("pages/2_Explain.py", N_("Explain"), ":material/local_fire_department:", "Explain"),
    Page("pages/3_Evaluation.py", N_("Evaluation"), ":material/analytics:", "Evaluation"),
    Page("pages/4_Dataset.py", N_("Dataset"), ":material/photo_library:", "Dataset"),
    Page("pages/5_Model_card.py", N_("Model card"), ":material/badge:", "Model_card"),
)
