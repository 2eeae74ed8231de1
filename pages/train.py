"""Train: pick a variant's hyperparameters, watch it learn live, and find every run again.

Every training is a run in the store (`core.store`), trained by a worker process
(`core.cluster.client`); this page only reads and writes rows. A reload, a second tab or the
same link on another computer shows the same run, live.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core.cluster.client import EngineUnavailable
from core.ml import choices, codegen, curves, data, variants
from core.store import Refused, StoreError
from ui import images, state
from ui.boot import ensure_navigation

OPEN = "open_run"  # The run shown beside the settings.
NOTICE = state.TRAIN_NOTICE
SMOOTHING = 0.9  # Weight of the exponential moving average drawn over the per-batch loss.
LOCKED_HELP = "Locked by your teacher for this lesson."


def _start_value(choices: tuple, default):
    """The widget's first value: the variant's default, or the nearest the limits allow."""
    if default in choices:
        return default
    below = [choice for choice in choices if not isinstance(choice, str) and choice <= default]
    return below[-1] if below else choices[0]


def setting_ui(name: str, item, choices: tuple, default, locked: bool):
    """One setting's widget; a locked one shows the teacher's value, disabled."""
    key = f"{item.name}_{name}"
    if locked:
        st.session_state[key] = default  # The teacher's value, whatever the session held.
    elif st.session_state.get(key) not in choices:  # New, or out of range after a limit changed.
        st.session_state[key] = _start_value(choices, default)
    if len(choices) == 1 and not locked:
        st.caption(f"{item.label}: {item.show(choices[0])} (the most allowed here)")
        return choices[0]
    common = {
        "key": key,
        "disabled": locked,
        "help": LOCKED_HELP if locked else item.help,
        "label": f":material/lock: {item.label}" if locked else item.label,
    }
    # The value comes from the session state set above, so no widget gets `value=` as well.
    if item.name == "epochs":
        return st.slider(min_value=choices[0], max_value=choices[-1], **common)
    if not item.numeric:
        return st.selectbox(options=choices, format_func=item.show, **common)
    if item.name == "subset":
        return st.select_slider(options=choices, format_func=item.show, **common)
    return st.select_slider(options=choices, **common)


def hyperparameters_ui(name: str, setup) -> dict:
    """The settings that matter for this variant, within the server's and the class's limits;
    returns the chosen values (`core.ml.choices`)."""
    locked = setup.locked(name)
    start = {**choices.defaults(name), **locked}
    values = {}
    for item in choices.for_variant(name):
        values[item.name] = setting_ui(
            name, item, setup.choices(name, item.name), start[item.name], item.name in locked
        )
    if locked:
        st.caption(
            ":material/lock: Your teacher fixed "
            + ", ".join(choices.setting(name, key).label.lower() for key in locked)
            + " for this lesson."
        )
    return values


def curve_frame(losses, epochs, keys: tuple[str, str]) -> pd.DataFrame:
    """Chart rows (epoch, value, series) for one loss: each batch's value and its moving
    average (or, on long runs, means of consecutive batches), and validation per epoch."""
    batch_key, val_key = keys
    frames = []
    values = losses.series.get(batch_key)
    if values is not None and len(values):
        x, raw, bucket = curves.thin(losses.x, values)
        if bucket == 1:  # Every batch drawn, with its moving average over it.
            frames.append(pd.DataFrame({"epoch": x, "value": raw, "series": "each batch"}))
            smoothed = curves.smooth(values, SMOOTHING)
            frames.append(pd.DataFrame({"epoch": x, "value": smoothed, "series": "moving average"}))
        else:  # A long run: the means of consecutive batches are the smoothing.
            name = f"mean of {bucket} batches"
            frames.append(pd.DataFrame({"epoch": x, "value": raw, "series": name}))
    points = [(e.epoch, e.logs[val_key]) for e in epochs if val_key in e.logs]
    if points:
        frames.append(pd.DataFrame(points, columns=["epoch", "value"]).assign(series="validation"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def loss_chart(losses, epochs, name: str, validation_images: int | None = None) -> None:
    """The loss of every training batch (faint), its moving average, and validation per
    epoch, in the panels the variant declares (the VAE's two parts apart)."""
    groups = list(variants.get(name).curves)
    if not len(losses.x):
        st.caption("The loss curve appears after the first batches.")
        return
    for column, (label, keys) in zip(st.columns(len(groups)), groups, strict=True):
        frame = curve_frame(losses, epochs, keys)
        if frame.empty:
            continue
        names = list(dict.fromkeys(frame["series"]))
        colours = {"validation": "#E4572E", "each batch": "#A9A3EE"}
        scale = alt.Scale(domain=names, range=[colours.get(n, "#5B4BDB") for n in names])
        base = alt.Chart(frame, title=label).encode(
            x=alt.X("epoch:Q", title="epoch"),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "series:N",
                title=None,
                scale=scale,
                legend=alt.Legend(orient="bottom", columns=1),  # One per line: fits any column.
            ),
        )
        lines = base.transform_filter(alt.datum.series != "validation").mark_line(strokeWidth=1.5)
        validation = base.transform_filter(alt.datum.series == "validation").mark_line(
            point=alt.OverlayMarkDef(size=40)
        )
        # The height includes the legend (three lines) and the axis: about 220 px of plot.
        column.altair_chart((lines + validation).properties(height=340), width="stretch")
    st.caption(
        f"Training: the loss of each batch and its moving average (smoothing {SMOOTHING}); "
        "on long runs, the mean of each stretch of batches. Validation: the mean loss on "
        f"{validation_images or 5000:,} held-out images (never trained on) after each epoch."
    )


def samples_ui(run, epochs) -> None:
    """The eight fixed test digits and their reconstructions, after any stored epoch."""
    st.image(images.strip(state.sample_digits(state.run_dataset(run)), size=64))
    if not epochs:
        st.caption("Eight fixed test digits, the same on every run")
        return
    pick = epochs[-1].epoch
    if not run.active and len(epochs) > 2:
        pick = st.select_slider(
            "Reconstructions after epoch",
            [e.epoch for e in epochs],
            value=pick,
            key=f"epoch_pick_{run.id}",
        )
    reconstructions = state.live_store().samples(run.id, pick)
    if reconstructions is not None:
        st.image(images.strip(reconstructions, size=64))
    st.caption(
        "Eight fixed test digits (top) and their reconstructions "
        + ("before training" if pick == 0 else f"after epoch {pick}")
    )


def losses_of(run):
    """The run's batch losses, each chunk read from the store once per session: a live view
    of a long run reads only the last second's chunks, not the whole curve again."""
    cache = st.session_state.setdefault("loss_cache", {})
    known = cache.get(run.id)
    if known is None:
        known = state.live_store().losses(run.id)
    else:
        known = known.extend(state.live_store().losses(run.id, after=known.last_seq))
    cache.clear()  # One run's curve per session is all a page shows.
    cache[run.id] = known
    return known


def timing_text(run) -> str:
    if not run.active:
        return f"{run.seconds:.1f} s of training"
    left = run.seconds_left
    return "estimating time" if left is None else f"about {left:.0f} s left"


def status_ui(run) -> None:
    """One message saying where the run is, and why it ended if it did."""
    if run.status == "queued":
        opened = state.live_store()
        position = opened.queue_position(run) if opened else 1
        training = opened.counts().get("running", 0) if opened else 0
        ahead = position - 1
        st.info(
            f"Waiting for a free training slot: {training} training now, "
            + (f"{ahead} ahead of you. " if ahead else "you are next. ")
            # Why it waits, from the engine through the store: a worker starting, or none.
            + (f"{run.message} " if run.message else "")
            + "Training starts by itself; this page updates every second.",
            icon=":material/hourglass_top:",
        )
    elif run.status == "running":
        if run.phase == "starting" or run.batches is None:
            st.progress(0.0, text="Starting the training process...")
        elif run.phase == "measuring":
            st.progress(1.0, text="Measuring the trained model on the 10,000 test images...")
        else:
            st.progress(
                run.fraction,
                text=f"Epoch {min(run.epochs_done + 1, run.epochs_total)}/{run.epochs_total} · "
                f"batch {run.batch or 0}/{run.batches} · {timing_text(run)}",
            )
    elif run.status == "finished":
        speed = f" ({run.samples_per_second:,.0f} images/s)" if run.samples_per_second else ""
        st.success(
            f"Trained {run.epochs_done} epoch(s) in {run.seconds:.1f} s{speed}."
            + (f" Test set: {state.metric_line(run.metrics)}." if run.metrics else ""),
            icon=":material/check_circle:",
        )
    elif run.status == "diverged":
        st.error(
            "The loss exploded: it became infinite or NaN (not a number), or grew far above "
            "where it started. The learning rate is too high for this model. Training stopped "
            "and the weights of the last good epoch were kept. Try a learning rate of 0.01 or "
            "lower.",
            icon=":material/warning:",
        )
    elif run.status == "failed":
        st.error(f"Training failed: {run.message}. Try other settings.", icon=":material/error:")
    elif run.status in ("stopped", "interrupted"):
        reason = f" ({run.message})" if run.message else ""
        st.info(
            f"{run.status.capitalize()} after {run.epochs_done} of {run.epochs_total} "
            f"epoch(s){reason}. "
            + (
                "The weights of the last epoch are kept; you can continue it."
                if run.epochs_done
                else "It had not finished an epoch yet."
            ),
            icon=":material/stop_circle:",
        )


def run_view(run) -> None:
    """Everything about one run, read from the store."""
    opened = state.live_store()
    status_ui(run)
    if run.status == "queued" or opened is None:
        return
    epochs = opened.epochs(run.id, with_samples=False)
    loss_chart(losses_of(run), epochs, run.variant, run.settings["train"].get("validation_images"))
    samples_ui(run, epochs)


def stop_ui(run, me) -> None:
    label, icon = (
        ("Leave the queue", ":material/cancel:")
        if run.status == "queued"
        else ("Stop", ":material/stop:")
    )
    if st.button(label, icon=icon, key=f"stop_{run.id}", disabled=run.stop_requested):
        state.live_store().request_stop(run.id, me.id)
        engine = state.engine()
        if run.status == "queued" and engine is not None:
            engine.cancel(run.id)  # Out of the scheduler's queue too, not only the store's.
        st.toast("Left the queue." if run.status == "queued" else "Stopping after this batch...")
        st.rerun()


@st.fragment(run_every=1.0)
def live_ui(run_id: int) -> None:
    """Redraws once a second while the run is queued or training; hands over when it ends.

    Once a second is what the eye needs from a loss curve; each redraw reads the run from the
    store, so every tab and every server process shows the same live run.
    """
    me, opened = st.session_state.get(state.STUDENT), state.store()
    if me is None or opened is None:
        return
    try:
        run = opened.run(run_id, me.id)
        if run is not None and run.active:
            stop_ui(run, me)
            run_view(run)
            return
    except StoreError as error:  # A fragment rerun is outside the page's own guard below.
        state.store_failed(error)
        st.warning("Lost the run store; retrying...", icon=":material/cloud_off:")
        return
    if run is not None and run.epochs_done:
        state.choose_model(run.id)  # The new model becomes the sidebar's.
    st.rerun()  # The whole page, sidebar included, now shows the ended run.


@st.cache_resource(show_spinner=False, max_entries=8)
def weights_file(key: str, _model) -> bytes:
    """The model's weights as a Keras `.weights.h5` file, once per model identity."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.weights.h5"
        _model.save_weights(path)
        return path.read_bytes()


def actions_ui(run, me) -> None:
    """Use, download, continue or delete an ended run."""
    opened = state.live_store()
    row = st.container(horizontal=True, gap="small")  # Buttons at their natural width.
    usable = state.usable(run)
    chosen = st.session_state.get(state.MODEL) == run.id
    row.button(
        "In use on every page" if chosen else "Use this model",
        icon=":material/check:" if chosen else ":material/input:",
        key=f"use_{run.id}",
        disabled=not usable or chosen,
        on_click=state.choose_model,
        args=(run.id, run.variant),
        help="The sidebar's model for this variant becomes this run: Draw, Latent space and "
        "the other pages use it.",
    )
    if usable:
        model = state.run_model(run)  # Cached: the same object the other pages use.
        row.download_button(
            "Weights",
            weights_file(run.key, model),
            file_name=f"{run.variant}-run{run.id}.weights.h5",
            mime="application/octet-stream",
            icon=":material/download:",
            key=f"download_{run.id}",
            on_click="ignore",
            help="Keras weights for this variant's architecture: build it with the run's settings "
            "(core.ml.variants.build) and call load_weights.",
        )
    code_button(row, codegen.for_run(run), f"{run.variant}_run{run.id}.py", f"code_{run.id}")
    # An interrupted run may have all its epochs and lack its test metrics (lost while measuring).
    continuable = run.status == "interrupted" or (
        run.status == "stopped" and run.epochs_done < run.epochs_total
    )
    if continuable and row.button(
        "Continue", icon=":material/play_arrow:", key=f"continue_{run.id}"
    ):
        try:
            opened.continue_run(run.id, me.id)
        except Refused as error:  # Another run is active, or this one changed meanwhile.
            state.refusal(error)
        else:
            submit(run.id)
            st.rerun()
    if row.button("Delete", icon=":material/delete:", key=f"delete_{run.id}"):
        opened.delete_run(run.id, me.id)
        if st.session_state.get(state.MODEL) == run.id:
            state.choose_model(state.PRETRAINED)
        st.session_state.pop(OPEN, None)
        st.rerun()


def code_button(where, source: str, file_name: str, key: str) -> None:
    """ "Get the code": the standalone Python file that trains this model (core.ml.codegen)."""
    where.download_button(
        "Get the code",
        source,
        file_name=file_name,
        mime="text/x-python",
        icon=":material/code:",
        key=key,
        on_click="ignore",
        help="One Python file using only Keras, NumPy and Keras's dataset loader: the same "
        "architecture and settings, trained, evaluated on the test set and saved. Run it with "
        "--epochs N, --limit N (training images) or --data FILE.npz.",
    )


def settings_text(run) -> str:
    dataset = data.get(state.run_dataset(run)).title
    return f"{dataset} · {choices.describe(choices.values_of(run.settings, run.variant))}"


def runs_table_ui(runs) -> int | None:
    """The student's runs; returns the run picked in the table, if any."""
    opened = state.live_store()
    curves_by_run = opened.epoch_losses([run.id for run in runs]) if opened else {}
    frame = pd.DataFrame(
        {
            "run": [run.id for run in runs],
            "started": [time.strftime("%d %b %H:%M", time.localtime(r.created_at)) for r in runs],
            "variant": [state.title(run.variant) for run in runs],
            # An active run changes every second: the live view above has its figures.
            "status": ["in progress" if r.active else r.status for r in runs],
            "epochs": ["" if r.active else f"{r.epochs_done}/{r.epochs_total}" for r in runs],
            "time": ["" if r.active else f"{r.seconds:.0f} s" for r in runs],
            "test": [state.metric_line(r.metrics) if r.metrics else "" for r in runs],
            "loss": [curves_by_run.get(run.id, []) for run in runs],
            "settings": [settings_text(run) for run in runs],
        }
    )
    picked = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key="runs_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "run": st.column_config.NumberColumn("Run", format="%d", width="small"),
            "loss": st.column_config.LineChartColumn("Training loss per epoch", width="small"),
            "test": st.column_config.TextColumn("Test metrics"),
        },
    )
    rows = picked.selection.rows if picked else []
    return int(frame["run"].iloc[rows[0]]) if rows else None


def start(name: str, values: dict, me) -> None:
    """Queue a run with these settings (the server applies locks and limits) and open it."""
    ids = state.queue_runs(me, [(name, values)])
    if ids is None:
        return
    st.session_state[OPEN] = ids[0]
    st.rerun()  # Redraw with the Train button disabled and the live view running.


def submit(run_id: int) -> None:
    """Hand a run queued in the store (a continued one) to the training cluster."""
    try:
        state.engine().submit(run_id)
    except EngineUnavailable:  # Kept queued in the store: submitted when the cluster is back.
        st.session_state[NOTICE] = (
            "The training cluster cannot be reached right now; your run is queued and starts "
            "when it is back."
        )


def main() -> None:
    name = state.current_variant()
    found = state.dataset()
    st.title("Train an autoencoder")
    st.markdown(
        f"Train a fresh **{state.title(name)}** autoencoder on {found.title} and watch it "
        f"learn: the loss curve, and eight test {found.noun}s as the model sees them after "
        "each epoch. Change the variant or the dataset in the sidebar. Your runs are kept: "
        "reload, close the tab or open your link elsewhere, and they are still here."
    )
    me, opened, engine = state.student(), state.store(), state.engine()
    if opened is None:
        st.caption(":material/cloud_off: Training is off while the run store is unavailable.")
    elif engine.error:
        st.warning(
            "Training is off: the training cluster cannot be reached. Your runs are safe and "
            "every other page works; training comes back by itself when the cluster does.",
            icon=":material/cloud_off:",
        )
    lesson = state.lesson()
    paused = lesson.room is not None and lesson.room.paused
    if paused:
        st.info(
            "Your teacher has paused new trainings for the class. Your runs are safe, and "
            "every page works; Train comes back when your teacher resumes.",
            icon=":material/pause_circle:",
        )
    if notice := st.session_state.pop(NOTICE, None):
        st.warning(notice, icon=":material/cloud_off:")
    runs = state.my_runs()  # Every dataset's: one run at a time, whatever it trains on.
    active = next((run for run in runs if run.active), None)
    if active is None and engine is not None:
        engine.prewarm()  # TensorFlow loads in a worker now, not after Train is pressed.
    settings, results = st.columns([1, 1.3], gap="large")
    with settings, st.form("hyperparameters", border=True):
        values = hyperparameters_ui(name, lesson.setup)
        pressed = st.form_submit_button(
            "Train",
            type="primary",
            icon=":material/play_arrow:",
            disabled=active is not None
            or opened is None
            or engine is None
            or bool(engine.error)
            or paused,
            help="One run at a time: stop the current one to start another." if active else None,
        )
    if pressed and active is None and opened is not None:
        start(name, values, state.ensure_student())  # A visitor's first run gives them a link.
    picked = runs_table_pick(runs)
    open_id = active.id if active else picked or st.session_state.get(OPEN)
    shown = next((run for run in runs if run.id == open_id), None) or (runs[0] if runs else None)
    with results:
        if shown is None:
            st.info(
                "Choose the settings and press Train. The loss curve and the eight digits "
                "below appear here as the model learns.",
                icon=":material/model_training:",
            )
            st.image(images.strip(state.sample_digits(), size=64))
            st.caption("Eight fixed test digits, the same on every run")
        else:
            st.subheader(f"Run {shown.id}: {state.title(shown.variant)}")
            st.caption(settings_text(shown))
            if shown.active:
                live_ui(shown.id)
            else:
                run_view(shown)
                actions_ui(shown, me)


def runs_table_pick(runs) -> int | None:
    """The "Your runs" section at the foot of the page; returns a run picked there."""
    table = st.container()
    with table:
        st.subheader("Your runs")
        if not runs:
            st.caption(
                "Nothing yet. Every run you train is kept here, with its curve, samples, "
                "test metrics and weights."
            )
            return None
        st.caption(
            "Pick a row to open the run above: use it on every page, download its "
            "weights, continue it or delete it."
        )
        return runs_table_ui(runs)


ensure_navigation()
# The database went away mid-page: a banner, not a traceback.
state.guarded(
    main,
    "Your runs cannot be reached right now. Training is off until the run store is back; "
    "the pretrained models on the other pages work as usual.",
)
