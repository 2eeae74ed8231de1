"""The teacher's Datasets tab on the Class page: the class's own uploads, which every student
of the class finds in their sidebar's Dataset and on Your images, and the lesson's dataset
(the one the class's students start on).

Every action goes through `core.lab.classroom`, which checks the teacher key in the store; the
upload itself is read and prepared as a student's is (`ui.own_upload`)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import streamlit as st

from core.i18n import _
from core.lab import classroom
from core.ml import data
from core.store import Refused
from ui import own_upload, services, words
from ui.class_setup import save, show_notice

PLACE = "datasets"  # i18n: not shown (where the lesson dataset's notice shows)
EACH = "each"  # The lesson dataset's choice: each student's own.
CHANGED = "lesson_dataset_changed"


def datasets_ui(room, key: str) -> None:
    st.markdown(
        _(
            "Images you upload here belong to the class: every student of it finds them in the "
            "sidebar's Dataset and on Your images, trains on them and races on them, and a "
            "challenge can rank runs on them. Students cannot rename or delete them."
        )
    )
    rows = classroom.class_datasets(services.live_store(), key)
    lesson_ui(room, key, rows)
    for row in rows:
        with st.container(border=True):
            dataset_row_ui(key, row)
    st.subheader(_("Upload a dataset for the class"))
    own_upload.upload_ui(partial(keep, key), key="class_dataset")


def lesson_ui(room, key: str, rows) -> None:
    """The lesson's dataset: where the class's students' sidebar starts."""
    current = classroom.Setup.from_json(room.setup)
    names = {data.own_name(row.id): row.name for row in rows}
    options = [EACH, *data.DATASETS, *names]
    chosen = current.dataset if current.dataset in options else EACH
    value = st.selectbox(
        _("The lesson's dataset"),
        options,
        index=options.index(chosen),
        # A select box shows an upload's name as plain text, as typed.
        format_func=lambda name: (
            _("Each student's own choice")
            if name == EACH
            else names.get(name) or _(data.get(name).title)
        ),
        key="lesson_dataset",
        on_change=st.session_state.__setitem__,
        args=(CHANGED, True),
        help=_(
            "The dataset the class's students start on, in their sidebar and on every page. "
            "They can still switch to another."
        ),
    )
    if current.dataset is not None and current.dataset not in options:
        st.caption(
            _(
                "The lesson's dataset was deleted: each student chooses their own until you "
                "pick another."
            )
        )
    show_notice(PLACE)
    wanted = None if value == EACH else value
    # Saved when the teacher changed it, once: a refused choice is not tried on every rerun.
    if st.session_state.pop(CHANGED, False) and wanted != current.dataset:  # A real change.
        save(key, current, replace(current, dataset=wanted), PLACE)


def dataset_row_ui(key: str, row) -> None:
    st.markdown(own_upload.summary(row))
    buttons = st.columns(2)
    with buttons[0].popover(_("Rename"), icon=":material/edit:"):
        new = st.text_input(_("New name"), value=row.name, key=f"class_rename_{row.id}")
        if st.button(_("Rename"), key=f"class_rename_go_{row.id}"):
            act(partial(classroom.rename_class_dataset, services.live_store(), key, row.id, new))
    with buttons[1].popover(_("Delete"), icon=":material/delete:"):
        st.markdown(_("Delete this dataset? Runs trained on it stay."))
        if st.button(_("Delete it"), key=f"class_delete_{row.id}", type="primary"):
            act(partial(classroom.delete_class_dataset, services.live_store(), key, row.id))


def act(action) -> None:
    """A teacher's action on a dataset: done and redrawn, or refused with the reason."""
    try:
        action()
    except Refused as error:
        st.error(words.plain(str(error)), icon=":material/block:")
        return
    st.rerun()


def keep(key: str, items, recipe: str, name: str) -> None:
    """Prepare the upload and keep it for the class (the server's limits apply per class)."""
    found = own_upload.prepare_and_keep(
        items,
        recipe,
        lambda prepared, **limits: classroom.add_class_dataset(
            services.live_store(), key, name, prepared, **limits
        ),
    )
    if found is None:
        return
    prepared = found[0]
    st.toast(_("Kept for the class: {images:,} images.").format(images=prepared.report.images))
    st.rerun()
