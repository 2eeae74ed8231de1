"""Train: pick a variant's hyperparameters, watch it learn live, and find every run again.

Every training is a run in the store (`core.store`), trained by a worker process
(`core.cluster.client`); this page only reads and writes rows. A reload, a second tab or the
same link on another computer shows the same run, live.
"""

from __future__ import annotations

import streamlit as st

from core.i18n import N_, _
from core.ml import choices
from core.store import StoreError
from ui import actions, identity, images, resources, scroll, services, session, sidebar, words
from ui.boot import ensure_navigation
from ui.run_view import details_ui, run_view, status_ui
from ui.runs_table import (
    OPEN,
    actions_ui,
    runs_table_pick,
    settings_text,
)

SCROLL_TO = "train_scroll_to"  # A run just started: bring its live view into view (phones).
PANEL = "run_panel"  # The run panel's container key.
NOTICE = actions.TRAIN_NOTICE
LOCKED_HELP = N_("Locked by your teacher for this lesson.")
# The live chart's redraw period (the status line redraws every second): a chart redraw cost
# Chromium ~0.24 s of script each (VAE, 1,500 points) on the machine that trains; every 2 s
# with fewer points (ui.run_view.LIVE_POINTS) left the worker more of the two cores.
LIVE_CHART_SECONDS = 2.0


def _start_value(choices: tuple, default):
    """The widget's first value: the variant's default, or the nearest the limits allow."""
    if default in choices:
        return default
    below = [choice for choice in choices if not isinstance(choice, str) and choice <= default]
    return below[-1] if below else choices[0]


def setting_ui(
    name: str, item, choices: tuple, default, locked: bool, shown=None, helped: str | None = None
):
    """One setting's widget; a locked one shows the teacher's value, disabled. `shown` reads
    a value and `helped` explains it (else the setting's own way)."""
    shown = shown or item.show
    key = f"{item.name}_{name}"
    # The default it was started from: when that changes (the dataset switched, and the
    # variant starts elsewhere on it), the widget starts again from the new one.
    seeded = f"{key}_default"
    if locked:
        st.session_state[key] = default  # The teacher's value, whatever the session held.
    elif (
        st.session_state.get(key) not in choices or st.session_state.get(seeded, default) != default
    ):
        st.session_state[key] = _start_value(choices, default)  # New, out of range, or moved.
    st.session_state[seeded] = default
    label = _(item.label)
    if len(choices) == 1 and not locked:
        st.caption(
            # Translators: a setting with one value allowed ("Epochs: 5 (the most allowed here)").
            _("{setting}: {value} (the most allowed here)").format(
                setting=label, value=shown(choices[0])
            )
        )
        return choices[0]
    common = {
        "key": key,
        "disabled": locked,
        "help": _(LOCKED_HELP) if locked else (helped or (_(item.help) if item.help else None)),
        "label": f":material/lock: {label}" if locked else label,
    }
    # The value comes from the session state set above, so no widget gets `value=` as well.
    if item.name == "epochs":
        return st.slider(min_value=choices[0], max_value=choices[-1], **common)
    if not item.numeric:
        return st.selectbox(options=choices, format_func=item.show, **common)
    if item.name == "subset":
        return st.select_slider(options=choices, format_func=shown, **common)
    return st.select_slider(options=choices, **common)


def hyperparameters_ui(name: str, setup) -> dict:
    """The settings that matter for this variant, within the server's and the class's limits;
    returns the chosen values (`core.ml.choices`)."""
    locked = setup.locked(name)
    start = {**choices.defaults(name, session.current_dataset()), **locked}
    if (count := resources.training_images()) is not None and "epochs" not in locked:
        # An upload of a few hundred images: as many more epochs as make up for them.
        start = choices.scaled_to(start, count, setup.choices(name, "epochs")[-1])
    values = {}
    for item in choices.for_variant(name):
        offered, shown, default = setup.choices(name, item.name), None, start[item.name]
        helped = None
        if item.name == "subset":
            offered, shown = resources.subset_choices(offered)
            if count is not None and (item.name not in locked or default >= count):
                default = offered[-1]  # All of an upload's few images (what a lock gives).
            if count is not None:
                helped = _(
                    "A random subset of its {count:,} training images (its validation images "
                    "are held out for the validation curve)."
                ).format(count=count)
        values[item.name] = setting_ui(
            name, item, offered, default, item.name in locked, shown, helped
        )
    if locked:
        # Translators: between the names of settings in a list ("epochs, code size").
        separator = _(", ")
        fixed = separator.join(_(choices.setting(name, key).label).lower() for key in locked)
        st.caption(
            _(":material/lock: Your teacher fixed {settings} for this lesson.").format(
                settings=fixed
            )
        )
    return values


def stop_ui(run, me) -> None:
    label, icon = (
        (_("Leave the queue"), ":material/cancel:")
        if run.status == "queued"
        else (_("Stop"), ":material/stop:")
    )
    if st.button(label, icon=icon, key=f"stop_{run.id}", disabled=run.stop_requested):
        actions.stop(run, me)  # Out of the scheduler's queue too, not only the store's.
        st.rerun()


@st.fragment(run_every=1.0)
def live_ui(run_id: int) -> None:
    """The run's status, redrawn once a second while it is queued or training (a cheap
    redraw: a line and a bar); hands the page over when it ends. Each redraw reads the run
    from the store, so every tab and every server process shows the same live run."""
    me = st.session_state.get(identity.STUDENT)
    if me is None or services.store() is None:
        return
    try:
        run = my_run(run_id, me)
        if run is not None and run.active:
            if run.status != "queued":
                st.session_state.pop(NOTICE, None)
            elif notice := st.session_state.get(NOTICE):
                st.warning(notice, icon=":material/cloud_off:")
            stop_ui(run, me)
            status_ui(run)
            return
    except StoreError as error:  # A fragment rerun is outside the page's own guard below.
        services.store_failed(error)
        st.warning(_("Lost the run store; retrying..."), icon=":material/cloud_off:")
        return
    if run is not None and run.epochs_done:
        sidebar.choose_model(run.id)  # The new model becomes the sidebar's.
    st.rerun()  # The whole page, sidebar included, now shows the ended run.


@st.fragment(run_every=LIVE_CHART_SECONDS)
def live_details_ui(run_id: int) -> None:
    """The live run's loss chart and samples, redrawn every LIVE_CHART_SECONDS: each redraw
    costs the browser far more than the status line, on a machine that may be training."""
    me = st.session_state.get(identity.STUDENT)
    try:
        run = my_run(run_id, me) if me is not None and services.store() else None
        if run is not None and run.active:
            details_ui(run)
    except StoreError:  # live_ui above says so, and reconnects.
        return


def my_run(run_id: int, me):
    """The student's run `run_id` as the store has it now (None if it is not theirs)."""
    return services.store().run(run_id, me.id)


def start(name: str, values: dict, me) -> None:
    """Queue a run with these settings (the server applies locks and limits) and open it."""
    ids = actions.start(me, [(name, values)])
    if ids is None:
        return
    st.session_state[OPEN] = st.session_state[SCROLL_TO] = ids[0]
    st.rerun()  # Redraw with the Train button disabled and the live view running.


def run_to_show(runs, active, picked: int | None, name: str):
    """The run beside the settings: the one training (there is one at most), else the row
    picked in Your runs, else the run opened last or the newest one of the sidebar's variant
    on the session's dataset; another variant's run would show the wrong curves and offer
    the wrong code."""
    if active is not None:
        return active
    if picked is not None:
        return next((run for run in runs if run.id == picked), None)
    dataset = session.current_dataset()
    mine = [run for run in runs if run.variant == name and run.dataset == dataset]
    opened = st.session_state.get(OPEN)
    return next((run for run in mine if run.id == opened), None) or (mine[0] if mine else None)


def main() -> None:
    name = sidebar.current_variant()
    found = session.dataset()
    title, dataset, noun = words.title(name), words.dataset_title(found.name), _(found.noun)
    st.title(_("Train an autoencoder"))
    st.markdown(
        _(
            "Train a fresh **{variant}** autoencoder on {dataset} and watch it learn: the loss "
            "curve, and eight test {noun}s as the model sees them after each epoch. Change the "
            "variant or the dataset in the sidebar. Your runs are kept: reload, close the tab "
            "or open your link elsewhere, and they are still here."
        ).format(variant=title, dataset=dataset, noun=noun)
    )
    me, opened, engine = identity.student(), services.store(), services.engine()
    if opened is None:
        st.caption(_(":material/cloud_off: Training is off while the run store is unavailable."))
    elif engine.error:
        st.warning(
            _(
                "Training is off: the training cluster cannot be reached. Your runs are safe "
                "and every other page works; training comes back by itself when the cluster "
                "does."
            ),
            icon=":material/cloud_off:",
        )
    lesson = identity.lesson()
    paused = lesson.room is not None and lesson.room.paused
    if paused:
        st.info(
            _(
                "Your teacher has paused new trainings for the class. Your runs are safe, and "
                "every page works; Train comes back when your teacher resumes."
            ),
            icon=":material/pause_circle:",
        )
    runs = actions.my_runs()  # Every dataset's: one run at a time, whatever it trains on.
    active = next((run for run in runs if run.active), None)
    # Said of a queued run, the notice stays with it while it waits (live_ui), not after.
    if active is None and (notice := st.session_state.pop(NOTICE, None)):
        st.warning(notice, icon=":material/cloud_off:")
    if active is None and engine is not None:
        engine.prewarm()  # TensorFlow loads in a worker now, not after Train is pressed.
    settings, results = st.columns([1, 1.3], gap="large")
    with settings, st.form("hyperparameters", border=True):
        values = hyperparameters_ui(name, lesson.setup)
        pressed = st.form_submit_button(
            _("Train"),
            type="primary",
            icon=":material/play_arrow:",
            disabled=active is not None
            or opened is None
            or engine is None
            or bool(engine.error)
            or paused,
            help=_("One run at a time: stop the current one to start another.") if active else None,
        )
    if pressed and active is None and opened is not None:
        start(name, values, identity.ensure_student())  # A visitor's first run gives them a link.
    if note := choices.live_note(name):
        settings.caption(f":material/schedule: {_(note)}")
    picked = runs_table_pick(runs)
    shown = run_to_show(runs, active, picked, name)
    with results.container(key=PANEL):
        if shown is None:
            st.info(
                _(
                    "No {variant} run on {dataset} yet. Choose the settings and press Train: "
                    "the loss curve and the eight {noun}s below appear here as the model learns."
                ).format(variant=title, dataset=dataset, noun=noun),
                icon=":material/model_training:",
            )
            st.image(images.strip(resources.sample_digits(), size=64))
            st.caption(_("Eight fixed test {noun}s, the same on every run").format(noun=noun))
        else:
            st.subheader(
                _("Run {id}: {variant}").format(id=shown.id, variant=words.title(shown.variant))
            )
            st.caption(settings_text(shown))
            if shown.active:
                live_ui(shown.id)
                live_details_ui(shown.id)
            else:
                run_view(shown)
                actions_ui(shown, me)
    if shown is not None and st.session_state.pop(SCROLL_TO, None) == shown.id:
        scroll.into_view(PANEL, f"run-{shown.id}")


ensure_navigation()
# The database went away mid-page: a banner, not a traceback.
services.guarded(
    main,
    _(
        "Your runs cannot be reached right now. Training is off until the run store is back; "
        "the pretrained models on the other pages work as usual."
    ),
)
