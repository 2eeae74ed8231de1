"""Uploading a dataset of one's own images: the uploader, what was read, both recipes
previewed, the name; keeping it is the caller's (a student's dataset, or a class's).

Reading and preparing is `core.ml.own_images` (every hostile upload refused there)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import streamlit as st

from core.i18n import _, moment, ngettext
from core.ml import own_images
from core.ml.preprocess import UploadError
from core.store import Refused
from ui import images, services, words
from ui.words import sentences

READ = "own_read"  # (upload digest, items, report) of the files read last.
GENERATION = "own_upload_generation"  # Part of the uploader's key: a new one empties it.
PREVIEW = 16  # Images per recipe's preview.


def read(files) -> tuple[list, own_images.Report] | None:
    """The upload's images, read once per upload (a rerun does not read them again); None,
    with the reason shown, when it is refused."""
    digest = hashlib.blake2b(digest_size=16)
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.getvalue())
    key = digest.hexdigest()
    found = st.session_state.get(READ)
    if found and found[0] == key:
        return found[1], found[2]
    report = own_images.Report()
    try:
        items = own_images.read_upload(
            [(file.name, file.getvalue()) for file in files],
            report,
            most_bytes=services.limits().max_dataset_mb * own_images.MB,
        )
    except UploadError as error:
        st.error(words.plain(str(error)), icon=":material/block:")  # It names their files.
        return None
    st.session_state[READ] = (key, items, report)
    return items, report


def preview(items, recipe: str) -> np.ndarray | None:
    """The first images prepared by `recipe`; None (with the reason shown) if one fails."""
    report = own_images.Report()
    try:
        # Spread over the upload: its first images are often all of one folder.
        picked = sorted({int(index) for index in np.linspace(0, len(items) - 1, PREVIEW)})
        return np.stack(
            [own_images.prepare_image(items[index], recipe, report) for index in picked]
        )
    except UploadError as error:
        st.error(words.plain(str(error)), icon=":material/block:")  # It names their files.
        return None


def upload_ui(keep: Callable[[list, str, str], None], key: str = "own") -> None:
    """Upload, read, preview both recipes, name, and `keep(items, recipe, name)` on the
    button: the student's datasets (Your images) and a class's (its teacher's Class page)."""
    generation = st.session_state.get(GENERATION, 0)  # Moved on by `kept`.
    st.subheader(_("1. Upload"))
    st.markdown(
        _(
            "A zip of PNG or JPEG images, or several images at once: {least:,} to {most:,} "
            "images, {size} MB at most. In a zip, folders are labels: `cats/1.png`, "
            "`dogs/7.jpg`. The lab makes each image 28×28 grey, as MNIST's are."
        ).format(
            least=own_images.MIN_IMAGES,
            most=own_images.MAX_IMAGES,
            size=services.limits().max_dataset_mb,
        )
    )
    files = st.file_uploader(
        _("Your images"),
        type=["zip", "png", "jpg", "jpeg"],
        accept_multiple_files=True,
        key=f"{key}_upload_{generation}",
        max_upload_size=services.limits().max_dataset_mb,
    )
    if not files:
        st.session_state.pop(READ, None)  # Up to 200 MB of images: not kept once removed.
        return
    found = read(files)
    if found is None:
        return
    items, report = found
    classes = sorted({item.label for item in items if item.label is not None})
    if classes:
        found = ngettext(
            "{count:,} image read in {folders} labelled folders: {names}.",
            "{count:,} images read in {folders} labelled folders: {names}.",
            len(items),
        ).format(
            count=len(items),
            folders=len(classes),
            names=", ".join(words.plain(name) for name in classes[:12]),
        )
    else:
        found = ngettext(
            "{count:,} image read, without labels.",
            "{count:,} images read, without labels.",
            len(items),
        ).format(count=len(items))
    ignored = (
        ngettext(
            "{count:,} other file ignored.", "{count:,} other files ignored.", len(report.ignored)
        ).format(count=len(report.ignored))
        if report.ignored
        else ""
    )
    st.markdown(sentences(found, ignored))
    st.subheader(_("2. Choose how to prepare them"))
    recipes = list(own_images.RECIPES)
    columns = st.columns(len(recipes))
    for column, recipe in zip(columns, recipes, strict=True):
        with column:
            st.markdown(f"**{_(own_images.RECIPES[recipe])}**")
            shown = preview(items, recipe)
            if shown is not None:
                st.image(images.grid(shown / 255.0, columns=8, size=42))
    st.caption(
        _(
            "MNIST's recipe trims each picture to its ink, fits the longer side into 20×20 "
            "pixels and centres it by its mass, as MNIST's digits were made: best for one "
            "drawn shape. A plain resize keeps the whole picture. Light backgrounds are "
            "inverted either way, so the ink is white on black."
        )
    )
    recipe = st.radio(
        _("Recipe"),
        recipes,
        format_func=lambda name: _(own_images.RECIPES[name]),
        horizontal=True,
        key=f"{key}_recipe_{generation}",
    )
    default = files[0].name.rsplit(".", 1)[0] if len(files) == 1 else _("My images")
    name = st.text_input(_("Name"), value=default, max_chars=80, key=f"{key}_name_{generation}")
    if st.button(_("Prepare and keep it"), type="primary", icon=":material/save:"):
        keep(items, recipe, name)


def kept() -> None:
    """The upload is kept: forget what was read and empty the uploader, so the same files are
    not offered (and kept twice) again."""
    st.session_state.pop(READ, None)
    st.session_state[GENERATION] = st.session_state.get(GENERATION, 0) + 1


def summary(row) -> str:
    """A kept dataset in one Markdown line: its name (as typed), size, classes, recipe, age."""
    return _("**{name}** · {images:,} images · {classes} · {recipe} · {size:,} KB · {when}").format(
        name=words.plain(row.name),
        images=row.images,
        classes=_("{count} classes").format(count=len(row.classes))
        if row.classes
        else _("no labels"),
        recipe=_(own_images.RECIPES.get(row.recipe, row.recipe)),
        size=max(1, round(row.size / 1024)),
        when=moment(row.created_at),
    )


def prepare_and_keep(items, recipe: str, store: Callable[..., int]):
    """Prepare every image (split with seed 0) and `store(prepared, most_per_owner=...,
    most_bytes=...)` it under the server's limits: (prepared, its id), or None with the
    refusal shown (it names their files). The uploader empties once it is kept."""
    limits = services.limits()
    try:
        with st.spinner(_("Preparing {count:,} images...").format(count=len(items))):
            prepared = own_images.prepare(items, recipe, seed=0)
        dataset_id = store(
            prepared,
            most_per_owner=limits.max_datasets,
            most_bytes=limits.max_datasets_total_mb * own_images.MB,
        )
    except (UploadError, Refused) as error:
        st.error(words.plain(str(error)), icon=":material/block:")
        return None
    kept()
    return prepared, dataset_id
