"""What every page looks like and says: set-up and notices, language, the last-resort handler, labels and
the small figures built in the page (probability chart, thumbnails). Not a page (Streamlit ignores sub-folders).
"""

from __future__ import annotations

import base64
import io
import logging
from typing import NoReturn

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image
from streamlit.navigation.page import StreamlitPage

from model.errors import BrainMRIError
from model.i18n import LANGUAGES, N_, _, use_language
from model.report.card_report import NOTICE, SHORT_NOTICE

LANGUAGE_KEY = "lang"  # the URL parameter and the session key of the visitor's language
NAVIGATED = "navigated by streamlit_app.py"  # set by the app's entry point in every session it serves


def leave_legacy_navigation() -> None:
    """Makes a cold server's first deep link show the app's own navigation.

    With a `pages/` folder, a server's first request for e.g. /Evaluation runs that page file on its own, as
    Streamlit's legacy multipage app (sidebar "streamlit app", no icons), and every deep link after it does
    the same until a visitor opens "/". That legacy mode is one class attribute, which `st.navigation` turns
    off when streamlit_app.py first runs; turning it off here and rerunning lets streamlit_app.py serve this
    link with the full navigation. A session that streamlit_app.py has already served needs none of this.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not st.session_state.get(NAVIGATED):
        PagesManager.uses_pages_directory = False
        st.rerun()


def choose_language() -> str:
    """This visitor's language: ?lang= in the URL, else their earlier choice, else the browser's (French for any
    fr*). The sidebar selector changes it; it is written back to the URL so that a shared link keeps it."""
    wanted = st.query_params.get(LANGUAGE_KEY) or st.session_state.get(LANGUAGE_KEY) or st.context.locale
    code = use_language(wanted)
    st.session_state[LANGUAGE_KEY] = st.session_state["language_picker"] = code
    st.query_params[LANGUAGE_KEY] = code
    st.sidebar.selectbox(
        "Language · Langue",
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key="language_picker",
        on_change=_picked,
    )
    return code


def _picked() -> None:
    st.session_state[LANGUAGE_KEY] = st.query_params[LANGUAGE_KEY] = st.session_state["language_picker"]


def page_setup(title: str) -> None:
    """The visitor's language for this run, the page's title (an English message, translated here), the notice in
    the sidebar and in the body."""
    leave_legacy_navigation()
    use_language(st.session_state.get(LANGUAGE_KEY))
    title = _(title)
    st.set_page_config(
        page_title=f"{title} · " + _("Brain-MRI classifier"), page_icon=":material/neurology:", layout="wide"
    )
    with st.sidebar:
        st.warning(f"**{_(SHORT_NOTICE)}.** {_(NOTICE)}", icon=":material/warning:")
    st.title(title)
    # Also in the page body: on a phone the sidebar starts collapsed and its notice goes unseen.
    st.markdown(f":orange-badge[:material/warning: {_(SHORT_NOTICE)}]")


LOG = logging.getLogger("brain_mri.app")
UNEXPECTED = N_(
    "Something went wrong on this page; it has been logged. Reload the page, or try another scan: your scans are kept."
)


def run_page(page: StreamlitPage) -> None:
    """The last resort around every page: an unexpected error shows one calm sentence and goes to the server log,
    never a traceback to the visitor. Streamlit's own flow (stop, rerun, switch page) is not an Exception."""
    try:
        page.run()
    except Exception:  # noqa: BLE001 - deliberately everything a page did not foresee
        LOG.exception("unexpected error on page %s", page.title)
        st.error(_(UNEXPECTED), icon=":material/error:")


THIS_FILE = N_("This file")  # the name a bad file's message starts with


def class_label(name: str) -> str:
    """A class name from the card ("Glioma") or the outline dataset ("glioma"), in the visitor's language."""
    return _(name)


def png_bytes(image) -> bytes:
    """A uint8 image array or a Matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    if isinstance(image, np.ndarray):
        Image.fromarray(image).save(buffer, format="PNG")
    else:
        import matplotlib.pyplot as plt  # only the pages that draw figures pay for it

        image.savefig(buffer, format="png", dpi=110)
        plt.close(image)  # pyplot keeps every figure it made until it is closed
    return buffer.getvalue()


def thumbnail_uri(image: np.ndarray, size: int = 64) -> str:
    """A small PNG as a data URI, for an image column of a table."""
    thumbnail = Image.fromarray(image)
    thumbnail.thumbnail((size, size))
    return "data:image/png;base64," + base64.b64encode(png_bytes(np.asarray(thumbnail))).decode()


def probability_chart(labels: list[str], probabilities: np.ndarray) -> alt.Chart:
    """One bar per class on a fixed 0-100 % axis, so that scans compare at a glance (a bar chart would rescale its
    axis to each scan's top class)."""
    frame = pd.DataFrame({"class": labels, "p": np.asarray(probabilities, dtype=float)})
    return (
        alt.Chart(frame, height=170)
        .mark_bar()
        .encode(
            x=alt.X(
                "p:Q", title=_("calibrated probability"), scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")
            ),
            y=alt.Y("class:N", title=None, sort=None, axis=alt.Axis(labelLimit=240)),
            tooltip=[
                alt.Tooltip("class:N", title=_("class")),
                alt.Tooltip("p:Q", title=_("calibrated probability"), format=".1%"),
            ],
        )
    )


CHART_TEXT_PX = 12  # every label of a chart, at the size the page draws it


def line_chart(curves: pd.DataFrame, x_label: str, y_label: str) -> alt.Chart:
    """One line per column of `curves` over its index, the legend above the plot in two columns (Streamlit's line
    chart puts it beside the plot, where long names are cut), accuracy on a 0-100 % axis, text at CHART_TEXT_PX."""
    long = curves.rename_axis("x").reset_index().melt("x", var_name="series", value_name="y").dropna()
    legend = alt.Legend(
        orient="top", direction="horizontal", columns=2, title=None, labelLimit=0, labelFontSize=CHART_TEXT_PX
    )
    return (
        alt.Chart(long, height=380)  # the legend and the axis titles included (Streamlit fits the whole chart)
        .mark_line(point=True)
        .encode(
            x=alt.X("x:Q", title=x_label),
            y=alt.Y("y:Q", title=y_label, axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("series:N", legend=legend, sort=list(curves.columns)),
            tooltip=[alt.Tooltip("series:N", title=" "), alt.Tooltip("y:Q", title=y_label, format=".1%")],
        )
        .configure_axis(labelFontSize=CHART_TEXT_PX, titleFontSize=CHART_TEXT_PX, titleLimit=0)
    )


def show_library_error(error: BrainMRIError) -> NoReturn:
    st.error(_("The model could not be loaded: {error}").format(error=error))
    st.stop()


WRAPPING_ROW_PX = 70  # taller than Streamlit's 4 rem, so that its grid wraps long cells instead of cutting them


def table(rows: list[dict[str, str]] | pd.DataFrame) -> None:
    """A read-only table that fits the page at any width: Streamlit's static table wraps long cells and headers
    where the interactive grid would cut them off at the right edge."""
    st.table(pd.DataFrame(rows), hide_index=True)
