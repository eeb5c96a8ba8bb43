"""French and English: complete catalogs, unchanged placeholders, locale numbers, one language per visitor."""

import re
import subprocess
import sys
import threading

import pytest
from babel.messages.pofile import read_po

from model.errors import ImageTooLargeError
from model.i18n import LOCALE_DIR, _, language, number, pct, supported, use_language
from tests.helpers import ROOT

PLACEHOLDER = re.compile(r"\{\w*\}")


def catalog(code: str):
    with open(LOCALE_DIR / code / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=code)


def test_every_french_message_is_translated_with_the_same_placeholders():
    french = catalog("fr")
    messages = [m for m in french if m.id]
    assert len(messages) > 300
    assert not [m.id for m in messages if not m.string or m.fuzzy], "untranslated or fuzzy messages"
    changed = [m.id for m in messages if sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))]
    assert not changed, changed
    for message in messages:  # every message uses {braces}; a "%" in one is a percent sign, not a %-format
        message.flags.discard("python-format")
    assert not [error for _, errors in french.check() for error in errors]  # Babel's own checks


def test_the_template_holds_every_message_the_code_marks(tmp_path):
    """A new _() or N_() in the code without `make translations` fails here, not in front of a French visitor."""
    fresh = tmp_path / "messages.pot"
    command = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "model/locales/babel.cfg"]
    command += ["-k", "N_", "-k", "_", "--no-location", "-o", str(fresh), "."]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)
    with open(fresh, "rb") as handle:
        in_code = {m.id for m in read_po(handle) if m.id}
    assert in_code == {m.id for m in catalog("fr") if m.id}


def test_numbers_follow_the_visitors_locale():
    use_language("en")
    assert (pct(0.759), pct(0.5, 0), pct(0.076, signed=True), number(1234.5, 1)) == ("75.9%", "50%", "+7.6%", "1,234.5")
    use_language("fr-CA")
    assert language() == "fr"
    assert pct(0.759) == "75,9\u00a0%" and number(0.306, 3) == "0,306"
    use_language("en")


@pytest.mark.parametrize(
    ("asked", "served"), [("fr", "fr"), ("fr-BE", "fr"), ("FR_ch", "fr"), ("de-DE", "en"), (None, "en")]
)
def test_any_french_locale_gets_french_and_anything_else_english(asked, served):
    assert supported(asked) == served


def test_two_visitors_never_share_a_language():
    seen = {}

    def visit(code: str) -> None:
        use_language(code)
        threading.Event().wait(0.05)
        seen[code] = _("Glioma")

    threads = [threading.Thread(target=visit, args=(code,)) for code in ("fr", "en")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"fr": "Gliome", "en": "Glioma"}
    assert language() == "en"  # this thread never chose


def test_a_typed_error_reads_in_english_and_translates_with_the_same_details():
    from pages.shared.layout import THIS_FILE
    from pages.shared.scans import Failure

    error = ImageTooLargeError("{name} is {size} MB; the limit is {limit} MB.", name=THIS_FILE, size=31, limit=25)
    assert str(error) == "This file is 31 MB; the limit is 25 MB."
    failure = Failure.of(error)
    use_language("fr")
    try:
        assert failure.message() == "Ce fichier pèse 31 Mo ; la limite est de 25 Mo."
    finally:
        use_language("en")
    assert failure.english() == str(error)
