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

    return_freed_memory()
    freeze_heap()


def return_freed_memory() -> None:
    """Once per process: make glibc serve every allocation of 1 MB or more (an array of test
    images, a batch of reconstructions) from its own mapping, which goes back to the system
    when freed. By default glibc raises that threshold as large blocks come and go, then
    keeps them in its heap: the server grew by each page's largest temporary arrays and never
    shrank. No-op off glibc."""
    if getattr(return_freed_memory, "done", False):
        return
    return_freed_memory.done = True
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_mmap_threshold = -3  # From glibc's malloc.h; setting it also fixes it.
        libc.mallopt(m_mmap_threshold, 1 << 20)
    except (OSError, AttributeError):  # Not glibc (macOS, musl): its own allocator decides.
        pass


def ensure_navigation() -> None:
    """Rerun through app.py if this page was started by the `pages/` folder convention."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
