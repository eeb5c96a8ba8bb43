"""pages/shared/ui.py: what each visitor's session keeps."""

from streamlit.testing.v1 import AppTest


def keeps_within_the_byte_limit():
    import streamlit as st

    from pages.shared.ui import KEPT_MEGABYTES, keep_scans, kept_scans

    megabyte = b"\0" * 2**20
    third = KEPT_MEGABYTES // 3 + 1  # three of these exceed the limit
    keep_scans([(f"scan{i}.dcm", megabyte * third) for i in range(3)])
    st.write(" ".join(kept_scans()))


def test_a_visitor_keeps_at_most_the_byte_limit_and_is_told_what_was_forgotten():
    app = AppTest.from_function(keeps_within_the_byte_limit).run()
    assert not app.exception
    assert app.markdown[0].value == "scan1.dcm scan2.dcm"
    assert "the 1 oldest were forgotten" in app.warning[0].value


def page_that_fails():
    import streamlit as st

    from pages.shared.ui import run_page

    def broken() -> None:
        st.write("before the error")
        raise IndexError("positional indexer is out-of-bounds in /secret/path/1_Classify.py")

    run_page(st.navigation([st.Page(broken, title="Broken", url_path="broken")]))


def test_an_unexpected_error_shows_one_calm_sentence_and_no_traceback():
    import logging

    from pages.shared.ui import LOG

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
