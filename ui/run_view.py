"""One run as the Train page shows it, read from the store: its status and progress, the loss
chart (per batch, smoothed, with the per-epoch validation losses) and its eight sample
reconstructions, epoch by epoch."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.ml import choices, curves, data, variants
from ui import images, resources, services, words

SMOOTHING = 0.9  # Weight of the exponential moving average drawn over the per-batch loss.
# While a run trains, its curves are redrawn every few seconds in the browser that shares the
# machine with training (here, two cores): drawn with at most this many points each. A VAE's
# 1,500-point curves cost Chromium twice the script time of 300-point ones per redraw
# (its Performance metrics), time the worker's training lost.
LIVE_POINTS = 400
ALL_POINTS = 1500


def curve_frame(losses, epochs, keys: tuple[str, str], most: int = ALL_POINTS) -> pd.DataFrame:
    """Chart rows (epoch, value, series) for one loss: each batch's value and its moving
    average (or, beyond `most` batches, means of consecutive batches), and validation per
    epoch."""
    batch_key, val_key = keys
    frames = []
    values = losses.series.get(batch_key)
    if values is not None and len(values):
        x, raw, bucket = curves.thin(losses.x, values, most)
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


def loss_chart(
    losses, epochs, name: str, validation_images: int | None = None, most: int = ALL_POINTS
) -> None:
    """The loss of every training batch (faint), its moving average, and validation per
    epoch, in the panels the variant declares (the VAE's two parts apart)."""
    groups = list(variants.get(name).curves)
    if not len(losses.x):
        st.caption("The loss curve appears after the first batches.")
        return
    for column, (label, keys) in zip(st.columns(len(groups)), groups, strict=True):
        frame = curve_frame(losses, epochs, keys, most)
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
    """The eight fixed test images and their reconstructions, after any stored epoch."""
    dataset = run.dataset
    noun = data.get(dataset).noun  # The run's own dataset: a panel may show another's run.
    st.image(images.strip(resources.sample_digits(dataset), size=64))
    if not epochs:
        st.caption(f"Eight fixed test {noun}s, the same on every run")
        return
    pick = epochs[-1].epoch
    if not run.active and len(epochs) > 2:
        pick = st.select_slider(
            "Reconstructions after epoch",
            [e.epoch for e in epochs],
            value=pick,
            key=f"epoch_pick_{run.id}",
        )
    reconstructions = services.live_store().samples(run.id, pick)
    if reconstructions is not None:
        st.image(images.strip(reconstructions, size=64))
    st.caption(
        f"Eight fixed test {noun}s (top) and their reconstructions "
        + ("before training" if pick == 0 else f"after epoch {pick}")
    )


def losses_of(run):
    """The run's batch losses, each chunk read from the store once per session: a live view
    of a long run reads only the last second's chunks, not the whole curve again."""
    cache = st.session_state.setdefault("loss_cache", {})
    known = cache.get(run.id)
    if known is None:
        known = services.live_store().losses(run.id)
    else:
        known = known.extend(services.live_store().losses(run.id, after=known.last_seq))
    cache.clear()  # One run's curve per session is all a page shows.
    cache[run.id] = known
    return known


def timing_text(run) -> str:
    if not run.active:
        return f"{run.seconds:.1f} s of training"
    left = run.seconds_left
    return "estimating time" if left is None else f"about {left:.0f} s left"


def diverged_text(run) -> str:
    """Why a run stopped with an exploded loss, what was kept, and a rate to try that the
    page offers below the run's own (it once said "try 0.01 or lower" to a run at 0.005)."""
    rate = run.settings.get("train", {}).get("learning_rate")
    calmer = choices.calmer_rate(rate)
    kept = (
        f"the weights of its last good epoch ({run.epochs_done}) are kept"
        if run.epochs_done
        else "no epoch had finished, so there are no weights to keep"
    )
    advice = (
        f"This run's learning rate was {rate:g}: try {calmer:g} or lower."
        if calmer is not None
        else "Try a lower learning rate."
    )
    return (
        "The loss exploded: it became infinite or NaN (not a number), or grew far above where "
        "it started, so the learning rate is too high for this model. Training stopped and "
        f"{kept}. {advice}"
    )


def trained_text(run) -> str:
    speed = f" ({run.samples_per_second:,.0f} images/s)" if run.samples_per_second else ""
    return f"Trained {words.count(run.epochs_done, 'epoch')} in {run.seconds:.1f} s{speed}."


def measuring_ui(run) -> None:
    """Training is over and the worker measures the model: the run is shown trained at once
    (its curves and samples are in the store), the test metrics a moment later."""
    if run.epochs_done >= run.epochs_total and not run.stop_requested:
        st.success(trained_text(run), icon=":material/check_circle:")
    else:
        st.info(
            f"Training ended after {run.epochs_done} of {words.count(run.epochs_total, 'epoch')}.",
            icon=":material/stop_circle:",
        )
    st.progress(
        1.0,
        text="Measuring it on the 10,000 test images: its test metrics appear here in a moment.",
    )


def status_ui(run) -> None:
    """One message saying where the run is, and why it ended if it did."""
    if run.status == "queued":
        opened = services.live_store()
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
            measuring_ui(run)
        else:
            st.progress(
                run.fraction,
                text=f"Epoch {min(run.epochs_done + 1, run.epochs_total)}/{run.epochs_total} · "
                f"batch {run.batch or 0}/{run.batches} · {timing_text(run)}",
            )
    elif run.status == "finished":
        st.success(
            trained_text(run)
            + (f" Test set: {words.metric_line(run.metrics)}." if run.metrics else ""),
            icon=":material/check_circle:",
        )
    elif run.status == "diverged":
        st.error(diverged_text(run), icon=":material/warning:")
    elif run.status == "failed":
        st.error(f"Training failed: {run.message}. Try other settings.", icon=":material/error:")
    elif run.status in ("stopped", "interrupted"):
        reason = f" ({run.message})" if run.message else ""
        st.info(
            f"{run.status.capitalize()} after {run.epochs_done} of "
            f"{words.count(run.epochs_total, 'epoch')}{reason}. "
            + (
                "The weights of the last epoch are kept; you can continue it."
                if run.epochs_done
                else "It had not finished an epoch yet."
            ),
            icon=":material/stop_circle:",
        )


def run_view(run) -> None:
    """Everything about one run, read from the store."""
    status_ui(run)
    details_ui(run)


def details_ui(run) -> None:
    """The run's loss chart and sample reconstructions (a live run's with fewer points)."""
    opened = services.live_store()
    if run.status == "queued" or opened is None:
        return
    epochs = opened.epochs(run.id, with_samples=False)
    loss_chart(
        losses_of(run),
        epochs,
        run.variant,
        run.settings["train"].get("validation_images"),
        LIVE_POINTS if run.active else ALL_POINTS,
    )
    samples_ui(run, epochs)
