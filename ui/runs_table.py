"""The Train page's list of the student's runs and what can be done with one: its status and
settings in a line, the table to pick one from, and its actions (use it on every page, get its
code and weights, continue, delete)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import i18n
from core.i18n import _
from core.lab import runs as lab_runs
from core.ml import choices, codegen, data, notebook
from core.store import Refused
from ui import actions, downloads, resources, services, session, sidebar, words

OPEN = "open_run"  # The run shown beside the settings.


def actions_ui(run, me) -> None:
    """Use, download, continue or delete an ended run."""
    opened = services.live_store()
    row = st.container(horizontal=True, gap="small")  # Buttons at their natural width.
    usable = lab_runs.usable(run)
    model = None
    if usable:
        try:
            model = resources.run_model(run)  # Cached: the same object the other pages use.
        except resources.NotServable:
            usable = False
            st.caption(_(words.NOT_SERVABLE))
    chosen = st.session_state.get(session.MODEL) == run.id
    row.button(
        _("In use on every page") if chosen else _("Use this model"),
        icon=":material/check:" if chosen else ":material/input:",
        key=f"use_{run.id}",
        # A run on an upload deleted since: its pages have no images to show it on.
        disabled=not usable or chosen or bool(data.available(run.dataset)),
        on_click=sidebar.choose_model,  # With its dataset: the pages show it on its images.
        args=(run.id, run.variant, run.dataset),
        help=_(
            "The sidebar's model for this variant becomes this run: Draw, Latent space and "
            "the other pages use it."
        ),
    )
    if model is not None and model.keras_weights is not None:
        row.download_button(
            _("Weights"),
            model.keras_weights,
            file_name=f"{run.variant}-run{run.id}.weights.h5",
            mime="application/octet-stream",
            icon=":material/download:",
            key=f"download_{run.id}",
            on_click="ignore",
            help=_(
                "Keras weights for this variant's architecture: build it with the run's "
                "settings (`core.ml.variants.build`) and call `load_weights`."
            ),
        )
    code_button(row, codegen.for_run(run), codegen.run_file_name(run), f"code_{run.id}")
    downloads.notebook_button(
        row, notebook.for_run(run), codegen.run_file_name(run), f"notebook_{run.id}"
    )
    sidebar.data_button(row, run.dataset, f"data_{run.id}")
    if lab_runs.continuable(run) and row.button(
        _("Continue"), icon=":material/play_arrow:", key=f"continue_{run.id}"
    ):
        try:
            actions.resume(run, me)
        except Refused as error:  # Another run is active, or this one changed meanwhile.
            services.refusal(error)
        else:
            st.rerun()
    if row.button(_("Delete"), icon=":material/delete:", key=f"delete_{run.id}"):
        lab_runs.delete(opened, run.id, me.id)
        if st.session_state.get(session.MODEL) == run.id:
            sidebar.choose_model(session.PRETRAINED)
        st.session_state.pop(OPEN, None)
        st.rerun()


def code_button(where, source: str, file_name: str, key: str) -> None:
    """ "Get the code": the standalone Python file that trains this model (core.ml.codegen)."""
    where.download_button(
        _("Get the code"),
        source,
        file_name=file_name,
        mime="text/x-python",
        icon=":material/code:",
        key=key,
        on_click="ignore",
        help=_(
            "One Python file using only Keras and NumPy: the same architecture and settings, "
            "trained, evaluated on the test set and saved. Run it with `--epochs N`, `--limit N` "
            "(training images) or `--data FILE.npz`; without `--data` it finds the images where "
            "the lab keeps them on this machine, else beside it (Get the data), else "
            "downloads them."
        ),
    )


def status_text(run) -> str:
    """A run's status in the runs table (the stored value stays English)."""
    if run.active:  # An active run changes every second: the live view above has its figures.
        # Translators: a queued or training run, in the runs table.
        return _("in progress")
    return words.status(run.status)


def settings_text(run) -> str:
    dataset = words.dataset_title(run.dataset)  # Shown in a caption: Markdown.
    return f"{dataset} · {choices.describe(shown_values(run), translated=True)}"


def shown_values(run) -> dict:
    """A run's settings as it trained: on an upload of fewer images than its Training images
    setting, the images it had."""
    from core.ml.data import DatasetUnavailable

    values = choices.values_of(run.settings, run.variant)
    try:
        count = resources.training_images(run.dataset)
    except DatasetUnavailable:  # A deleted upload: its count is gone with it.
        count = None
    if count is not None and "subset" in values:
        values["subset"] = min(values["subset"], count)
    return values


def runs_table_ui(runs) -> int | None:
    """The student's runs; returns the run picked in the table, if any."""
    opened = services.live_store()
    curves_by_run = opened.epoch_losses([run.id for run in runs]) if opened else {}
    frame = pd.DataFrame(
        {
            "run": [run.id for run in runs],
            "started": [i18n.moment(run.created_at) for run in runs],
            "variant": [words.title(run.variant) for run in runs],
            "dataset": [words.dataset_title(run.dataset, markdown=False) for run in runs],
            "status": [status_text(run) for run in runs],
            "epochs": ["" if r.active else f"{r.epochs_done}/{r.epochs_total}" for r in runs],
            "time": ["" if r.active else f"{r.seconds:.0f} s" for r in runs],
            "test": [words.metric_line(r.metrics) if r.metrics else "" for r in runs],
            "loss": [curves_by_run.get(run.id, []) for run in runs],
            "settings": [choices.describe(shown_values(run), translated=True) for run in runs],
        }
    )
    picked = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key="runs_table",
        placeholder=words.MISSING,
        on_select="rerun",
        selection_mode="single-row",
        # The frame's keys stay as they are; the headers are in the reader's language.
        # Translators: the runs table's column headers.
        column_config={
            "run": st.column_config.NumberColumn(_("Run"), format="%d", width="small"),
            "started": st.column_config.Column(_("started")),
            "variant": st.column_config.Column(_("variant")),
            "dataset": st.column_config.Column(_("dataset")),
            "status": st.column_config.Column(_("status")),
            "epochs": st.column_config.Column(_("epochs")),
            "time": st.column_config.Column(_("time")),
            "loss": st.column_config.LineChartColumn(_("Training loss per epoch"), width="small"),
            "test": st.column_config.TextColumn(_("Test metrics")),
            "settings": st.column_config.Column(_("settings")),
        },
    )
    rows = picked.selection.rows if picked else []
    return int(frame["run"].iloc[rows[0]]) if rows else None


def runs_table_pick(runs) -> int | None:
    """The "Your runs" section at the foot of the page; returns a run picked there."""
    table = st.container()
    with table:
        st.subheader(_("Your runs"))
        if not runs:
            st.caption(
                _(
                    "Nothing yet. Every run you train is kept here, with its curve, samples, "
                    "test metrics and weights."
                )
            )
            return None
        st.caption(
            _(
                "Pick a row to open the run above: use it on every page, download its "
                "weights, continue it or delete it."
            )
        )
        return runs_table_ui(runs)
