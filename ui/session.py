"""The session's choices and the keys they live under in `st.session_state` and the URL: the
dataset (`?data=`), the variant (`?variant=`) and the model (`?model=`)."""

from __future__ import annotations

import streamlit as st

from core.ml import data

VARIANT = "variant"
MODEL = "model_choice"  # "pretrained" or a run id of this student's
PRETRAINED = "pretrained"
CHOOSE = "choose_model"  # A model choice waiting for the sidebar's next run.
MODEL_LINK = "model"  # The query parameter of the chosen run, so a reload keeps it.
DATASET = "dataset"  # The session's dataset, mirrored in the URL as ?data=fashion.
DATASET_LINK = "data"


def current_dataset() -> str:
    """The session's dataset ("mnist" or "fashion"), as the sidebar chose it."""
    return st.session_state.get(DATASET) or "mnist"


def dataset() -> data.Dataset:
    return data.get(current_dataset())


def run_dataset(run) -> str:
    return run.settings.get("train", {}).get("dataset", "mnist")
