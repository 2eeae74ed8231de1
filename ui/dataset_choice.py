"""The sidebar's Dataset choice: MNIST, Fashion-MNIST, and the student's uploads (and their
class's), seeded from `?data=` or the lesson's dataset, and mirrored back to the link."""

from __future__ import annotations

import streamlit as st

from core.i18n import _
from core.ml import cards, data, variants
from ui.actions import my_datasets
from ui.identity import lesson
from ui.resources import card
from ui.session import DATASET, DATASET_LINK


def dataset_problem(name: str) -> str | None:
    """Why dataset `name` cannot be used on this server, or None: its files, and its
    shipped models (which every page but Train needs). An upload has no shipped model: the
    pages use the student's runs on it."""
    missing = data.available(name)
    if missing or data.own_id(name) is not None:
        return missing
    if card(variants.names()[0], name) is None:  # Cached: this runs on every page.
        return _(
            "The pretrained {dataset} models are missing from {folder}; train them with "
            "`python -m core.train all --dataset {name}`."
        ).format(dataset=_(data.get(name).title), folder=cards.folder(None, name), name=name)
    return None


LESSON_DATASET = "lesson_dataset_seen"  # The lesson's dataset at this session's last run.


def _mirror_dataset() -> None:
    st.query_params[DATASET_LINK] = st.session_state[DATASET]


def dataset_picker() -> str:
    """The sidebar's dataset choice, seeded from `?data=` and mirrored back to it: the lab's
    two, then the student's uploads (and their class's). A dataset this server lacks is
    refused with how to get it; the session stays on MNIST. An upload's link opens it only
    for a student who may use it: to anyone else it is as absent as one never made."""
    found = my_datasets()  # None: the store failed (the uploads cannot be read meanwhile).
    uploads = {data.own_name(row.id): row.name for row in found or []}
    names = [*data.DATASETS, *uploads]
    chosen = lesson().setup.dataset  # The lesson's, which its teacher may set (or change).
    chosen = chosen if chosen in names else None
    if st.session_state.get(DATASET) not in names:  # New, None (seen in a class session),
        asked = st.query_params.get(DATASET_LINK)  # or an upload just deleted.
        st.session_state[DATASET] = asked if asked in names else chosen or names[0]
    elif chosen is not None and st.session_state.get(LESSON_DATASET, chosen) != chosen:
        st.session_state[DATASET] = chosen  # The teacher chose another: everyone moves, once.
    if found is not None:  # Not while the store is away: it would move them again after.
        st.session_state[LESSON_DATASET] = chosen
    problem = dataset_problem(st.session_state[DATASET])
    if problem:
        st.sidebar.warning(problem, icon=":material/dataset:")
        st.session_state[DATASET] = "mnist"
    if st.query_params.get(DATASET_LINK, "mnist") != st.session_state[DATASET]:
        _mirror_dataset()
    label = _("Dataset")
    # The widget changes kind when the first upload comes or the last goes: a new widget
    # would start on its first option, so it is handed the session's value.
    st.session_state[DATASET] = st.session_state[DATASET]
    if not uploads:
        st.sidebar.segmented_control(
            label,
            names,
            key=DATASET,
            format_func=lambda name: _(data.get(name).title),
            required=True,
            on_change=_mirror_dataset,
            help=_("Handwritten digits, or photos of clothes: the same models, other images."),
        )
    else:  # An upload's name is the student's own text: a select box shows it as plain text.
        st.sidebar.selectbox(
            label,
            names,
            key=DATASET,
            format_func=lambda name: uploads.get(name) or _(data.get(name).title),
            on_change=_mirror_dataset,
            help=_(
                "Handwritten digits, photos of clothes, or images you uploaded on the Your "
                "images page: the same models, other images."
            ),
        )
    return st.session_state[DATASET]
