"""The session's choices and the keys they live under in `st.session_state` and the URL: the
dataset (`?data=`), the variant (`?variant=`) and the model (`?model=`)."""

from __future__ import annotations

import streamlit as st

from core.i18n import _
from core.ml import data

VARIANT = "variant"
MODEL = "model_choice"  # "pretrained" or a run id of this student's
PRETRAINED = "pretrained"
CHOOSE = "choose_model"  # A model choice waiting for the sidebar's next run.
MODEL_LINK = "model"  # The query parameter of the chosen run, so a reload keeps it.
DATASET = "dataset"  # The session's dataset, mirrored in the URL as ?data=fashion.
DATASET_LINK = "data"
LAST_INPUT = "last_drawing"  # The Draw page's latest 28x28 input, offered on Inside and Latent.
LAST_INPUT_DATA = "last_drawing_data"  # The dataset whose models it was an input of.


def current_dataset() -> str:
    """The session's dataset ("mnist", "fashion" or an upload's "own-<id>"), as the sidebar
    chose it."""
    return st.session_state.get(DATASET) or "mnist"


def dataset() -> data.Dataset:
    return data.get(current_dataset())


def on_upload() -> bool:
    """Whether the session's dataset is an upload of the student's (or their class's): no
    shipped model, the pages use the student's runs on it."""
    return data.own_id(current_dataset()) is not None


def drawable() -> bool:
    """Whether the Draw page has a drawing pad: MNIST's digits are drawn; Fashion-MNIST's
    garments are uploaded or picked from the test set."""
    return current_dataset() == "mnist"


def draw_title() -> str:
    """The Draw page's title, which Home's first step repeats."""
    if drawable():
        return _("Draw a digit")
    # Translators: the Draw page's title for photos; {noun} is what one shows ("garment").
    return _("Reconstruct a {noun}").format(noun=_(dataset().noun))


def keep_last_input(image) -> None:
    st.session_state[LAST_INPUT] = image
    st.session_state[LAST_INPUT_DATA] = current_dataset()


def last_input():
    """The Draw page's last input if it was one of this dataset's, else None: a digit drawn
    for MNIST's models is no input of the Fashion-MNIST ones."""
    if st.session_state.get(LAST_INPUT_DATA, "mnist") != current_dataset():
        return None
    return st.session_state.get(LAST_INPUT)


def last_input_label() -> str:
    # An option of Latent's and Inside's pickers, compared with itself in the same run.
    return _("My last drawing") if drawable() else _("My last image on Draw")
