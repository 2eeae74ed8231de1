"""What Inside's sections feed the shipped models: the test set's codes of a model (cached), a
spinner over encoding it, and the input a section looks at (the reader's last drawing or a test
image of their choice)."""

from __future__ import annotations

from contextlib import AbstractContextManager

import numpy as np
import streamlit as st

from core.i18n import _
from core.ml import inside
from ui import resources, session


# The spinner is the callers' (st.spinner waits half a second, so a cached answer shows none):
# a cache's own spinner text is fixed when the module is imported, in nobody's language.
@st.cache_data(show_spinner=False, max_entries=16)
def test_codes(name: str, dataset: str) -> np.ndarray:
    return inside.codes(resources.pretrained_model(name), resources.test_set().x_test)


def encoding() -> AbstractContextManager[None]:
    """The spinner over an encoding of the test set, in the reader's language."""
    return st.spinner(_("Encoding the 10,000 test images..."))


def digit_picker(key: str) -> tuple[str, np.ndarray]:
    """The user's last input on the Draw page if there is one, else a test image they
    choose. (The name and the widget keys stay: tests and links know them.)"""
    data = resources.test_set()
    found = session.dataset()
    noun = _(found.noun)
    # The options stay English ("Test digit 7": tests and session_state know them); the
    # reader sees them translated.
    shown = {
        f"Test {found.noun} {label}": _("Test {noun} {label}").format(noun=noun, label=_(label))
        for label in found.labels
    }
    choices = list(shown)
    drawing = session.last_input()
    mine = session.last_input_label()
    if drawing is not None:
        choices.insert(0, mine)
        shown[mine] = mine
    choice = st.selectbox(
        _("Input {noun}").format(noun=noun), choices, format_func=shown.get, key=key
    )
    if choice == mine:
        return choice, np.asarray(drawing, np.float32)
    label = choices.index(choice) - (1 if drawing is not None else 0)
    return choice, data.images(int((data.y_test == label).argmax()))[..., 0]
