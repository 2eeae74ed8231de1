"""What the app does to Streamlit before any page runs: `prepare_server()` (called by app.py),
and `ensure_navigation()` (called by every page).

A page opened by URL on a freshly started server must run inside app.py's navigation.

Streamlit decides per process whether an app uses the old `pages/` folder convention: until
some session has run app.py (whose `st.navigation` switches the convention off), a request for
`/draw` runs `pages/draw.py` on its own, without app.py's sidebar or page list. The first
student to open a shared link after a restart would get that broken page. Each page therefore
calls `ensure_navigation()` first: if it finds itself run the old way, it switches the process
to `st.navigation` and reruns, which now goes through app.py and lands on the same URL.
"""

from __future__ import annotations

import logging

import streamlit as st

LOG = logging.getLogger("autoencoder_lab")


def prepare_server() -> None:
    """Once per script run, from app.py (cheap after the first): keep TensorFlow's caches
    across script runs and take what is loaded out of the garbage collector's scans. If an
    upgrade of Streamlit has changed what the first one patches, the app logs a warning and
    runs without it (slower pages, nothing wrong)."""
    from ui.resources import freeze_heap

    try:
        keep_keras_caches()
    except (ImportError, AttributeError) as error:
        if not getattr(prepare_server, "warned", False):
            prepare_server.warned = True
            LOG.warning(
                "Streamlit changed (%s): TensorFlow's caches will be cleared after every "
                "script run, which makes model pages slower",
                error,
            )
    freeze_heap()


def ensure_navigation() -> None:
    """Rerun through app.py if this page was started by the `pages/` folder convention."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def keep_keras_caches() -> None:
    """Stop Streamlit from calling `keras.backend.clear_session()` after every script run.

    Streamlit does that to reset apps that build Keras models in their script. This lab builds
    none there, and the call throws away TensorFlow's kernel cache, so the next call of every
    compiled model instantiates and optimises its graph again: measured on the Draw page, one
    drawing through the ten models took ~200-300 ms of server CPU instead of ~7 ms, and every
    latent-slider move paid the same tax for the decoder. Only the matplotlib clean-up, which
    this app can use, is kept. (Patches a private Streamlit function; the test
    `test_keras_caches_survive_a_script_run` fails if an upgrade changes it.)
    """
    import contextlib
    import sys

    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules  # noqa: B018 (AttributeError if Streamlit changed it)
    if getattr(script_runner._clean_problem_modules, "keeps_keras", False):
        return

    def clean_matplotlib_only() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            # As Streamlit does: a failed clean-up must not break the app.
            with contextlib.suppress(Exception):
                pyplot.close("all")

    clean_matplotlib_only.keeps_keras = True
    script_runner._clean_problem_modules = clean_matplotlib_only
