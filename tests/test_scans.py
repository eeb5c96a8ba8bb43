"""pages/shared/scans.py: what each visitor's session keeps."""

from streamlit.testing.v1 import AppTest


def keeps_within_the_byte_limit():
    import streamlit as st

    from pages.shared.scans import KEPT_MEGABYTES, keep_scans, kept_scans

    megabyte = b"\0" * 2**20
    third = KEPT_MEGABYTES // 3 + 1  # three of these exceed the limit
    keep_scans([(f"scan{i}.dcm", megabyte * third) for i in range(3)])
    st.write(" ".join(kept_scans()))


def test_a_visitor_keeps_at_most_the_byte_limit_and_is_told_what_was_forgotten():
    app = AppTest.from_function(keeps_within_the_byte_limit).run()
    assert not app.exception
    assert app.markdown[0].value == "scan1.dcm scan2.dcm"
    assert "the 1 oldest were forgotten" in app.warning[0].value
