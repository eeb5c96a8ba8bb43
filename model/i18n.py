"""French and English for every sentence a person reads, chosen per visitor.

Messages are gettext catalogs managed with Babel (`make translations`
extracts them into `model/locales/messages.pot` and updates each language's
`.po`); the `.po` files are committed and compiled in memory when first used,
so there is no compiled file to keep in step. The language is a context
variable set at the start of each page run (`use_language`), never a
process-wide `gettext.install`, so one visitor's choice never changes
another's. Code outside the app (the README generator, the CLI) leaves it at
English. Numbers go through Babel's locale data: 75.9 % in English, 75,9 %
in French.
"""

from __future__ import annotations

import functools
import gettext
import io
from contextvars import ContextVar
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"
LANGUAGES = {"en": "English", "fr": "Français"}  # code -> the language's name in itself

_language: ContextVar[str] = ContextVar("language", default=SOURCE_LANGUAGE)


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is shown."""
    return message


def supported(code: str | None) -> str:
    """The catalog for a browser or URL language such as 'fr-CA' (French for any fr*), else English."""
    base = (code or "").replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else SOURCE_LANGUAGE


def use_language(code: str | None) -> str:
    """Sets this run's language (the calling thread's context only); returns the code used."""
    chosen = supported(code)
    _language.set(chosen)
    return chosen


def language() -> str:
    return _language.get()


@functools.cache
def _catalog(code: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if code == SOURCE_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with open(path, "rb") as handle:
        catalog = read_po(handle, locale=code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str) -> str:
    """`message` in this run's language."""
    return _catalog(language()).gettext(message)


def pct(value: float, digits: int = 1, signed: bool = False) -> str:
    """A share as a percentage in this run's language: 0.759 -> '75.9%' / '75,9 %' (no-break space)."""
    if language() == SOURCE_LANGUAGE:
        return f"{value:+.{digits}%}" if signed else f"{value:.{digits}%}"
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "\u00a0%"
    text = format_percent(value, format=pattern, locale=language())
    return ("+" + text if value >= 0 else text) if signed else text


def number(value: float, digits: int = 0) -> str:
    """A number with `digits` decimals and the locale's separators."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=language())


def significant(value: float, digits: int = 2) -> str:
    """A p-value or similar with `digits` significant digits, with the locale's decimal sign."""
    text = f"{value:.{digits}g}"
    return text if language() == SOURCE_LANGUAGE else text.replace(".", ",")
