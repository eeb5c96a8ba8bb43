"""pages/shared/layout.py: the last-resort handler every page runs in."""

from streamlit.testing.v1 import AppTest


def page_that_fails():
    import streamlit as st

    from pages.shared.layout import run_page

    def broken() -> None:
        st.write("before the error")
        raise IndexError("positional indexer is out-of-bounds in /secret/path/1_Classify.py")

    run_page(st.navigation([st.Page(broken, title="Broken", url_path="broken")]))


def test_an_unexpected_error_shows_one_calm_sentence_and_no_traceback():
    import logging

    from pages.shared.layout import LOG

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record)

    logged: list[logging.LogRecord] = []
    handler = Kept()
    LOG.addHandler(handler)
    try:
        app = AppTest.from_function(page_that_fails).run()
    finally:
        LOG.removeHandler(handler)
    assert not app.exception
    assert [e.value for e in app.error] == [
        "Something went wrong on this page; it has been logged. Reload the page, or try another scan: your scans "
        "are kept."
    ]
    shown = " ".join(str(e.value) for kind in ("markdown", "error", "text", "code") for e in getattr(app, kind))
    assert "/secret/path" not in shown and "IndexError" not in shown
    assert [r.getMessage() for r in logged] == ["unexpected error on page Broken"] and logged[0].exc_info
