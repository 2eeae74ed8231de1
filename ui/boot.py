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
    """Once per script run, from app.py (cheap after the first): take what is loaded out of
    the garbage collector's scans. (The server runs no Keras: Streamlit's clearing of Keras's
    session after each script run, which this once patched out, finds nothing to clear.)"""
    from ui.resources import freeze_heap

    freeze_heap()


def ensure_navigation() -> None:
    """Rerun through app.py if this page was started by the `pages/` folder convention."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
