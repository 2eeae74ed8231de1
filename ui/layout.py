"""The lab's page-wide layout rules (ui/layout.css), for phones, tablets and fingers.

Streamlit offers no setting for a touch target's size or for when two parts of a page go side
by side, and the lab writes no raw HTML into pages (tests/app/test_reliability.py). A components-v2
component without style isolation adds our constant stylesheet to the page instead: no script,
no user text, and it takes no room.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

CSS = Path(__file__).with_name("layout.css").read_text()
STYLE = st.components.v2.component("autoencoder_lab.layout", css=CSS, isolate_styles=False)


def apply() -> None:
    """Add the rules to this page run (call once, from app.py)."""
    STYLE(key="lab_layout", width="content", height="content")
