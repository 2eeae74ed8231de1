"""Which language this session reads (core.i18n translates), decided once per script run by
app.py before anything is drawn: a language the class's teacher fixed, else the reader's own
choice (the sidebar's switch, or `?lang=` in the link they opened), else their browser's
language (`st.context.locale`), else English.

A choice is kept in the URL (`?lang=zh`), as `?me=` is, so it survives a reload, a page switch
and a bookmark; a language taken from the browser is not written there, so a link copied from a
Chinese browser still opens in English for an English reader.
"""

from __future__ import annotations

import streamlit as st

from core import i18n
from core.i18n import _

PARAM = "lang"  # The query parameter: "zh" or "en".
CHOSEN = "language_choice"  # The reader's own choice (the switch, or a link's ?lang=).
SWITCH = "language_switch"  # The switch widget's key: shows the language in effect.
IN_EFFECT = "language"  # The language this session reads, for core.i18n (and its fragments).


def apply(fixed: str | None = None) -> str:
    """Decide and use this run's language; `fixed` is the class's (None: the reader's)."""
    asked = st.query_params.get(PARAM)
    if asked in i18n.LANGUAGES and st.session_state.get(CHOSEN) != asked:
        st.session_state[CHOSEN] = asked  # A link with ?lang= is a choice, like the switch.
    chosen = fixed or st.session_state.get(CHOSEN)
    if chosen in i18n.LANGUAGES:
        if asked != chosen:
            st.query_params[PARAM] = chosen  # Page switches drop query parameters.
    elif asked is not None:
        st.query_params.pop(PARAM, None)  # Not a language the lab speaks: dropped, not echoed.
    code = i18n.use(chosen or i18n.from_browser(browser_language()))
    st.session_state[IN_EFFECT] = code
    i18n.resolve_with(session_language)
    return code


def session_language() -> str | None:
    """The language of the session this thread serves (a fragment's rerun too), or None."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx(suppress_warning=True)
    if context is None:
        return None
    state = context.session_state
    return state[IN_EFFECT] if IN_EFFECT in state else None  # noqa: SIM401 (it has no .get)


def browser_language() -> str | None:
    """The browser's language: `navigator.language` as Streamlit reports it, else the first
    language of the request's Accept-Language header."""
    tag = st.context.locale
    if tag:
        return tag
    header = (st.context.headers or {}).get("Accept-Language") or ""
    return header.split(",")[0].split(";")[0].strip() or None


def switch(fixed: str | None = None) -> None:
    """The sidebar's language switch (its labels each in their own language, so a reader who
    cannot read the current one still finds theirs). Disabled when the class fixes it."""
    if st.session_state.get(SWITCH) != i18n.language():
        st.session_state[SWITCH] = i18n.language()  # The language in effect, whoever chose it.
    st.sidebar.segmented_control(
        _("Language"),
        list(i18n.LANGUAGES),
        format_func=lambda code: i18n.LANGUAGES[code][1],
        key=SWITCH,
        on_change=_chosen,
        disabled=bool(fixed),
        help=_("Your teacher set this class's language.") if fixed else None,
        label_visibility="collapsed",
    )


def _chosen() -> None:
    code = st.session_state.get(SWITCH)
    if code in i18n.LANGUAGES:
        st.session_state[CHOSEN] = code
        st.query_params[PARAM] = code
    # A click on the chosen segment deselects it: the next run shows the language in effect.
