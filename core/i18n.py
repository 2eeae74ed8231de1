"""The lab in its reader's language: English (the messages' source) and Simplified Chinese.

Messages are GNU gettext catalogues: `locale/messages.pot` is extracted from the source by
Babel (`make translations`, which also updates and compiles each language's catalogue), and
`locale/zh_CN/LC_MESSAGES/messages.po` holds the Chinese. gettext is the standard: translators'
tools (Poedit, Weblate, Lokalize) read it, plural forms and fuzzy marks are part of the format,
and Python reads the compiled catalogue with its own `gettext` module. Babel extracts, merges
and compiles without the GNU tools, and formats numbers and dates per language (CLDR data).

The language is per reader, not per process: the web tier serves many sessions at once, each
in its own script thread. `use(code)` sets it for the current context (a ContextVar: a script
run's thread, or a task), and `_()` reads it. core stays free of Streamlit: the page decides
which language a session reads (ui.language) and calls `use` at the start of every script run.

Texts declared in core (a variant's title, a setting's help) are marked with `N_()` where they
are declared, which only marks them for extraction, and translated with `_()` where shown.
Machine-read outputs (CSV columns, URL parameters, the generated code) are never translated.
"""

from __future__ import annotations

import gettext
import threading
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
SOURCE = "en"
# Code in the URL (`?lang=zh`) -> (gettext/CLDR locale, the switch's label in its own language).
LANGUAGES = {"en": ("en", "English"), "zh": ("zh_CN", "中文")}

_language: ContextVar[str] = ContextVar("language", default=SOURCE)
# Where the web tier keeps a session's language (ui.language installs it): a fragment's rerun
# runs in a new thread without app.py, so the ContextVar alone would read English there.
_resolver: Callable[[], str | None] | None = None
_catalogues: dict[str, gettext.NullTranslations] = {}
_lock = threading.Lock()


def use(code: str | None) -> str:
    """Read messages in `code` ("en", "zh") from now on in this context; an unknown or empty
    code means English. Returns the code in effect."""
    code = code if code in LANGUAGES else SOURCE
    _language.set(code)
    return code


def language() -> str:
    """The language code in effect in this context: the session's (see `resolve_with`), else
    the one `use` set."""
    if _resolver is not None:
        code = _resolver()
        if code in LANGUAGES:
            return code
    return _language.get()


def resolve_with(resolver: Callable[[], str | None] | None) -> None:
    """Install a function that names the language of whoever is being served (None when
    nobody is: a worker's thread, a command-line tool); `use` applies otherwise."""
    global _resolver
    _resolver = resolver


def locale_name(code: str | None = None) -> str:
    """The CLDR/gettext locale of a language code: "zh" -> "zh_CN"."""
    return LANGUAGES[code or language()][0]


def from_browser(tag: str | None) -> str | None:
    """The lab's language for a browser's language tag (`st.context.locale`, a BCP 47 tag
    such as "zh-CN", "zh-Hans-SG", "en-GB"), or None when the lab does not speak it.
    Traditional Chinese readers (zh-TW, zh-HK, zh-Hant) get Simplified Chinese, which they
    read, rather than English."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def _(message: str) -> str:
    """`message` in this context's language (itself in English, or when not translated)."""
    return catalogue().gettext(message)


def ngettext(singular: str, plural: str, number: int) -> str:
    """The form of a message that fits `number` in this context's language (Chinese has one
    form; English two)."""
    return catalogue().ngettext(singular, plural, number)


def N_(message: str) -> str:
    """Marks a message for extraction where it is declared; `_()` translates it where it is
    shown (in the reader's language, which is not known where a variant is declared)."""
    return message


def catalogue(code: str | None = None) -> gettext.NullTranslations:
    """The compiled catalogue of a language (English: the messages themselves)."""
    code = code or language()
    found = _catalogues.get(code)
    if found is None:
        with _lock:
            found = _catalogues.get(code) or _load(code)
            _catalogues[code] = found
    return found


def _load(code: str) -> gettext.NullTranslations:
    if code == SOURCE:
        return gettext.NullTranslations()
    folder = LOCALE_DIR / locale_name(code) / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
        try:
            compile_catalogue(po, mo)  # A checkout without `make translations`: compile now.
        except OSError:  # A read-only install: compiled in memory, for this process.
            import io

            compiled = io.BytesIO()
            _write_mo(po, compiled)
            compiled.seek(0)
            return gettext.GNUTranslations(compiled)
    with mo.open("rb") as file:
        return gettext.GNUTranslations(file)


def compile_catalogue(po: Path, mo: Path) -> None:
    """Compile a .po into the .mo `gettext` reads (what `pybabel compile` does), atomically:
    several app servers may start at once on one checkout."""
    import os
    import tempfile

    handle, temporary = tempfile.mkstemp(dir=mo.parent, suffix=".mo")
    with os.fdopen(handle, "wb") as file:
        _write_mo(po, file)
    os.replace(temporary, mo)


def _write_mo(po: Path, file) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        write_mo(file, read_po(source, locale=po.parent.parent.name))


def number(value: float, digits: int | None = None) -> str:
    """A number as this language writes it: grouped thousands, `digits` decimals (when None,
    the language's default: up to three)."""
    from babel.numbers import format_decimal

    pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale_name())


def moment(timestamp: float) -> str:
    """A date and time of day, short, in this language: "Dec 3 15:20", "12月3日 15:20"."""
    from datetime import datetime

    from babel.dates import format_skeleton

    when = datetime.fromtimestamp(timestamp)
    return f"{format_skeleton('MMMd', when, locale=locale_name())} {when:%H:%M}"
