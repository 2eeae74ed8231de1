"""Your images: upload a dataset of your own (a zip, or several pictures), see it prepared by
both recipes, keep it in the store, train on it, and take its data away.

Reading and preparing is `core.ml.own_images` (every hostile upload refused there); the store
keeps the dataset (`core.store.datasets`); a worker trains on it as on MNIST, its name in the
run's settings ("own-12"). This page only reads and writes rows.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.i18n import _, ngettext
from core.lab import runs as lab_runs
from core.ml import choices, data, own_images, variants
from core.store import Refused
from ui import actions, identity, images, own_upload, resources, services, words
from ui.actions import watch
from ui.boot import ensure_navigation

PICK = "own_pick"  # The dataset box's key: the dataset whose panel is open.


def owners(me, room):
    return lab_runs.owners(me.id, room)


def save(items, recipe: str, name: str) -> None:
    """Prepare every image, split them with seed 0, and store the dataset for the student
    (a visitor's first dataset gives them their link)."""
    from core.store import Owner

    me = identity.ensure_student()
    found = own_upload.prepare_and_keep(
        items,
        recipe,
        lambda prepared, **limits: services.live_store().add_dataset(
            Owner(student_id=me.id), name, prepared, **limits
        ),
    )
    if found is None:
        return
    prepared, st.session_state[PICK] = found
    report = prepared.report
    st.toast(
        _(
            "Kept: {images:,} images ({train:,} to train, {val:,} to validate, {test:,} to "
            "test); {duplicates:,} duplicates dropped."
        ).format(
            images=report.images,
            duplicates=report.duplicates,
            train=len(prepared.x_train),
            val=len(prepared.x_val),
            test=len(prepared.x_test),
        )
    )
    st.rerun()


def dataset_ui(me, room, row) -> None:
    """One kept dataset: what it holds, its test images, training on it, its runs."""
    name = data.own_name(row.id)
    mine = row.student_id == me.id
    st.markdown(own_upload.summary(row))
    x_test, _labels = own_test(row.id)
    st.image(images.grid(x_test[:16] / 255.0, columns=16, size=42))
    if len(x_test) > 16:
        shown = _("Its first 16 test images of {count:,}, as the models see them.")
    else:
        shown = ngettext(
            "Its {count:,} test image, as the models see it.",
            "Its {count:,} test images, as the models see them.",
            len(x_test),
        )
    st.caption(shown.format(count=len(x_test)))
    buttons = st.columns(3)
    buttons[0].download_button(
        _("Get the data (.npz)"),
        data=lambda: npz_of(row.id),
        file_name=f"{name}.npz",
        mime="application/octet-stream",
        icon=":material/download:",
        key=f"own_npz_{row.id}",
        help=_(
            "The prepared images as one compressed NumPy file: uint8 x_train, x_val and "
            "x_test, with their labels y_train, y_val and y_test (-1 without labels)."
        ),
    )
    if mine:
        with buttons[1].popover(_("Rename"), icon=":material/edit:"):
            new = st.text_input(_("New name"), value=row.name, key=f"own_rename_{row.id}")
            if st.button(_("Rename"), key=f"own_rename_go_{row.id}"):
                rename(me, row, new)
        with buttons[2].popover(_("Delete"), icon=":material/delete:"):
            st.markdown(_("Delete this dataset? Runs trained on it stay."))
            if st.button(_("Delete it"), key=f"own_delete_{row.id}", type="primary"):
                delete(me, row)
    train_ui(me, name, row.images)
    runs_ui(row.id, name)


@st.cache_data(show_spinner=False, max_entries=8, ttl=600)  # At most 20,000 images each.
def own_test(dataset_id: int) -> tuple[np.ndarray, np.ndarray]:
    """An uploaded dataset's uint8 test images and labels (ids are never reused)."""
    arrays = services.live_store().dataset_arrays(dataset_id)
    return arrays["x_test"], arrays["y_test"]


def npz_of(dataset_id: int) -> bytes:
    """What "Get the data" gives, the same file a run's button on Train gives."""
    from core.ml import codegen

    return codegen.data_npz(data.own_name(dataset_id))


def rename(me, row, new: str) -> None:
    from core.store import Owner

    try:
        if services.live_store().rename_dataset(row.id, Owner(student_id=me.id), new):
            st.rerun()
    except Refused as error:
        st.error(words.plain(str(error)))


def delete(me, row) -> None:
    from core.store import Owner

    services.live_store().delete_dataset(row.id, Owner(student_id=me.id))
    st.session_state.pop(PICK, None)
    st.rerun()


def train_ui(me, name: str, images_kept: int) -> None:
    """Train any variant of the lesson on it, with the Train page's settings, given as many
    epochs as make up for a small dataset."""
    lesson = identity.lesson()
    offered = [variant for variant in lesson.setup.variants if variant in variants.names()]
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    variant = left.selectbox(
        _("Variant"), offered, format_func=words.title, key=f"own_variant_{name}"
    )
    training = int(images_kept * own_images.SPLITS[0])
    most = services.limits().max_epochs
    if lesson.room is not None:  # The class's limit, which its runs are held to.
        most = min(most, lesson.setup.max_epochs)
    values = choices.scaled_to(choices.defaults(variant, name), training, most)
    st.caption(
        _(
            "Trains with the Train page's settings for this variant, with as many epochs as "
            "make up for its {count:,} training images (up to the limit): {settings}."
        ).format(count=training, settings=choices.describe(values, translated=True))
    )
    if right.button(
        _("Train on it"), type="primary", icon=":material/play_arrow:", key=f"own_train_{name}"
    ):
        engine = services.engine()
        if engine is None or engine.error:
            st.warning(_("Training is off: the training cluster cannot be reached."))
            return
        if actions.start(me, [(variant, values)], dataset=name):
            st.rerun()


def runs_ui(dataset_id: int, name: str) -> None:
    """The student's runs on this dataset: live while one trains, then its reconstructions."""
    found = actions.my_runs(dataset=name)
    if not found:
        return
    st.markdown(_("**Your runs on it**"))
    for run in found[:6]:
        st.markdown(f"{words.title(run.variant)} · {words.run_label(run)}")
        if run.active:
            watch(run.id)
        elif run.epochs_done:
            reconstructions(run, dataset_id)


def reconstructions(run, dataset_id: int) -> None:
    """Eight of its test images over their reconstructions by the run."""
    try:
        model = resources.run_model(run)
    except resources.NotServable:
        st.caption(_("This run has no model the lab can serve."))
        return
    x_test, y_test = own_test(dataset_id)
    picked = data.to_images(x_test[data.sample_indices(y_test)])
    st.image(images.grid(np.concatenate([picked, model(picked)]), columns=8, size=42))
    st.caption(_("Eight of its test images (top) and the run's reconstructions (bottom)."))


def main() -> None:
    st.title(_("Your own images"))
    st.markdown(
        _(
            "Train the lab's autoencoders on pictures of your own: drawings, photos, scans. "
            "They are kept in the lab with your runs, for you alone."
        )
    )
    opened = services.store()
    if opened is None:
        st.caption(_(":material/cloud_off: Uploads are off while the run store is unavailable."))
        return
    own_upload.upload_ui(save)
    me = identity.student()
    room = opened.member(me.id)[0] if me is not None else None
    rows = (
        [row for owner in owners(me, room) for row in opened.datasets(owner)]
        if me is not None
        else []
    )
    st.subheader(_("3. Your datasets"))
    if not rows:
        st.info(_("The datasets you keep appear here."), icon=":material/photo_library:")
        return
    ids = [row.id for row in rows]
    if st.session_state.get(PICK) not in ids:
        st.session_state[PICK] = ids[0]  # The newest, or the one just kept (see `save`).
    pick = st.selectbox(
        _("Dataset"),
        ids,
        format_func=lambda key: next(row.name for row in rows if row.id == key),  # Plain text.
        key=PICK,
    )
    dataset_ui(me, room, next(row for row in rows if row.id == pick))


ensure_navigation()
services.guarded(
    main,
    _("Your images cannot be reached right now; the other pages work as usual."),
)
