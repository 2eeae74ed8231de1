"""One run as the Train page shows it, read from the store: its status and progress, the loss
chart (per batch, smoothed, with the per-epoch validation losses) and its eight sample
reconstructions, epoch by epoch."""

from __future__ import annotations

import re
import string

import altair as alt
import pandas as pd
import streamlit as st

from core.i18n import _, ngettext
from core.ml import choices, curves, data, variants
from ui import images, resources, services, words
from ui.words import sentences

SMOOTHING = 0.9  # Weight of the exponential moving average drawn over the per-batch loss.
# While a run trains, its curves are redrawn every few seconds in the browser that shares the
# machine with training (here, two cores): drawn with at most this many points each. A VAE's
# 1,500-point curves cost Chromium twice the script time of 300-point ones per redraw
# (its Performance metrics), time the worker's training lost.
LIVE_POINTS = 400
ALL_POINTS = 1500


def message_text(message: str | None) -> str:
    """A run's stored message (`core.store.runs`: why it waits, why it ended) in the reader's
    language: a template's translation around the value it carries, a fixed text's
    translation, or the message as stored (a detail from Python, or written by an older
    version)."""
    if not message:
        return ""
    from core.store.runs import TEMPLATED  # Here: the store's package is slow to import.

    for template in TEMPLATED:
        values = _filled(template, message)
        if values is not None:
            return _(template).format(**values)
    return _(message)


def _filled(template: str, message: str) -> dict | None:
    """The values that made `message` from `template` (named placeholders), or None."""
    pattern = ""
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        pattern += re.escape(literal)
        if name is not None:
            pattern += f"(?P<{name}>.*)"
    found = re.fullmatch(pattern, message, re.DOTALL)
    return found.groupdict() if found else None


def series_names() -> dict[str, str]:
    """The chart's series as its legend says them (the data's labels, in the reader's language)."""
    return {
        # Translators: the loss chart's legend: the loss of every training batch.
        "batch": _("each batch"),
        # Translators: the loss chart's legend: the smoothed loss over the batches.
        "average": _("moving average"),
        # Translators: the loss chart's legend: the loss on held-out images after each epoch.
        "validation": _("validation"),
    }


def curve_frame(losses, epochs, keys: tuple[str, str], most: int = ALL_POINTS) -> pd.DataFrame:
    """Chart rows (epoch, value, series) for one loss: each batch's value and its moving
    average (or, beyond `most` batches, means of consecutive batches), and validation per
    epoch."""
    batch_key, val_key = keys
    names = series_names()
    frames = []
    values = losses.series.get(batch_key)
    if values is not None and len(values):
        x, raw, bucket = curves.thin(losses.x, values, most)
        if bucket == 1:  # Every batch drawn, with its moving average over it.
            frames.append(pd.DataFrame({"epoch": x, "value": raw, "series": names["batch"]}))
            smoothed = curves.smooth(values, SMOOTHING)
            frames.append(pd.DataFrame({"epoch": x, "value": smoothed, "series": names["average"]}))
        else:  # A long run: the means of consecutive batches are the smoothing.
            # Translators: the loss chart's legend on a long run.
            name = ngettext("mean of {n} batch", "mean of {n} batches", bucket).format(n=bucket)
            frames.append(pd.DataFrame({"epoch": x, "value": raw, "series": name}))
    points = [(e.epoch, e.logs[val_key]) for e in epochs if val_key in e.logs]
    if points:
        frames.append(
            pd.DataFrame(points, columns=["epoch", "value"]).assign(series=names["validation"])
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def loss_chart(
    losses, epochs, name: str, validation_images: int | None = None, most: int = ALL_POINTS
) -> None:
    """The loss of every training batch (faint), its moving average, and validation per
    epoch, in the panels the variant declares (the VAE's two parts apart)."""
    groups = list(variants.get(name).curves)
    if not len(losses.x):
        st.caption(_("The loss curve appears after the first batches."))
        return
    series = series_names()
    for column, (label, keys) in zip(st.columns(len(groups)), groups, strict=True):
        frame = curve_frame(losses, epochs, keys, most)
        if frame.empty:
            continue
        names = list(dict.fromkeys(frame["series"]))
        colours = {series["validation"]: "#E4572E", series["batch"]: "#A9A3EE"}
        scale = alt.Scale(domain=names, range=[colours.get(n, "#5B4BDB") for n in names])
        base = alt.Chart(frame, title=_(label)).encode(
            # Translators: the loss chart's x axis.
            x=alt.X("epoch:Q", title=_("epoch")),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "series:N",
                title=None,
                scale=scale,
                legend=alt.Legend(orient="bottom", columns=1),  # One per line: fits any column.
            ),
        )
        held_out = series["validation"]
        lines = base.transform_filter(alt.datum.series != held_out).mark_line(strokeWidth=1.5)
        validation = base.transform_filter(alt.datum.series == held_out).mark_line(
            point=alt.OverlayMarkDef(size=40)
        )
        # The height includes the legend (three lines) and the axis: about 220 px of plot.
        column.altair_chart((lines + validation).properties(height=340), width="stretch")
    if validation_images == 0:  # An upload's run: its own held-out images, however many.
        st.caption(
            _(
                "Training: the loss of each batch and its moving average (smoothing "
                "{smoothing}); on long runs, the mean of each stretch of batches. Validation: "
                "the mean loss on its upload's held-out images (never trained on) after each "
                "epoch."
            ).format(smoothing=SMOOTHING)
        )
        return
    images_count = validation_images or 5000
    st.caption(
        ngettext(
            "Training: the loss of each batch and its moving average (smoothing {smoothing}); "
            "on long runs, the mean of each stretch of batches. Validation: the mean loss on "
            "{images:,} held-out image (never trained on) after each epoch.",
            "Training: the loss of each batch and its moving average (smoothing {smoothing}); "
            "on long runs, the mean of each stretch of batches. Validation: the mean loss on "
            "{images:,} held-out images (never trained on) after each epoch.",
            images_count,
        ).format(smoothing=SMOOTHING, images=images_count)
    )


def samples_ui(run, epochs) -> None:
    """The eight fixed test images and their reconstructions, after any stored epoch."""
    dataset = run.dataset
    noun = _(data.get(dataset).noun)  # The run's own dataset: a panel may show another's run.
    st.image(images.strip(resources.sample_digits(dataset), size=64))
    if not epochs:
        st.caption(_("Eight fixed test {noun}s, the same on every run").format(noun=noun))
        return
    pick = epochs[-1].epoch
    if not run.active and len(epochs) > 2:
        pick = st.select_slider(
            _("Reconstructions after epoch"),
            [e.epoch for e in epochs],
            value=pick,
            key=f"epoch_pick_{run.id}",
        )
    reconstructions = services.live_store().samples(run.id, pick)
    if reconstructions is not None:
        st.image(images.strip(reconstructions, size=64))
    st.caption(
        _("Eight fixed test {noun}s (top) and their reconstructions before training").format(
            noun=noun
        )
        if pick == 0
        else _(
            "Eight fixed test {noun}s (top) and their reconstructions after epoch {epoch}"
        ).format(noun=noun, epoch=pick)
    )
    st.caption(
        _(
            "Source texts: chapter 10 “使用自编码器重构输入” (Reconstructing inputs using "
            "autoencoders), section “绘制重建图像” (Plotting the reconstructed images); chapter "
            "15 “自编码器” (Autoencoders), section “可视化重建” (Visualizing reconstructions)"
        )
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
        return _("{seconds:.1f} s of training").format(seconds=run.seconds)
    left = run.seconds_left
    if left is None:
        return _("estimating time")
    return _("about {seconds:.0f} s left").format(seconds=left)


def diverged_text(run) -> str:
    """Why a run stopped with an exploded loss, what was kept, and a rate to try that the
    page offers below the run's own (it once said "try 0.01 or lower" to a run at 0.005)."""
    rate = run.settings.get("train", {}).get("learning_rate")
    calmer = choices.calmer_rate(rate)
    what = (
        _(
            "The loss exploded: it became infinite or NaN (not a number), or grew far above "
            "where it started, so the learning rate is too high for this model. Training "
            "stopped and the weights of its last good epoch ({epoch}) are kept."
        ).format(epoch=run.epochs_done)
        if run.epochs_done
        else _(
            "The loss exploded: it became infinite or NaN (not a number), or grew far above "
            "where it started, so the learning rate is too high for this model. Training "
            "stopped and no epoch had finished, so there are no weights to keep."
        )
    )
    advice = (
        _("This run's learning rate was {rate:g}: try {calmer:g} or lower.").format(
            rate=rate, calmer=calmer
        )
        if calmer is not None
        else _("Try a lower learning rate.")
    )
    return sentences(what, advice)


def trained_text(run) -> str:
    done = run.epochs_done
    if run.samples_per_second:
        return ngettext(
            "Trained {epochs:,} epoch in {seconds:.1f} s ({speed:,.0f} images/s).",
            "Trained {epochs:,} epochs in {seconds:.1f} s ({speed:,.0f} images/s).",
            done,
        ).format(epochs=done, seconds=run.seconds, speed=run.samples_per_second)
    return ngettext(
        "Trained {epochs:,} epoch in {seconds:.1f} s.",
        "Trained {epochs:,} epochs in {seconds:.1f} s.",
        done,
    ).format(epochs=done, seconds=run.seconds)


def measuring_ui(run) -> None:
    """Training is over and the worker measures the model: the run is shown trained at once
    (its curves and samples are in the store), the test metrics a moment later."""
    if run.epochs_done >= run.epochs_total and not run.stop_requested:
        st.success(trained_text(run), icon=":material/check_circle:")
    else:
        st.info(
            ngettext(
                "Training ended after {done} of {total:,} epoch.",
                "Training ended after {done} of {total:,} epochs.",
                run.epochs_total,
            ).format(done=run.epochs_done, total=run.epochs_total),
            icon=":material/stop_circle:",
        )
    st.progress(
        1.0,
        text=_(
            "Measuring it on its upload's test images: its test metrics appear here in a moment."
        )
        if data.own_id(run.dataset) is not None
        else _("Measuring it on the 10,000 test images: its test metrics appear here in a moment."),
    )


def status_ui(run) -> None:
    """One message saying where the run is, and why it ended if it did."""
    if run.status == "queued":
        opened = services.live_store()
        position = opened.queue_position(run) if opened else 1
        training = opened.counts().get("running", 0) if opened else 0
        ahead = position - 1
        place = (
            _(
                "Waiting for a free training slot: {training} training now, {ahead} ahead of you."
            ).format(training=training, ahead=ahead)
            if ahead
            else _(
                "Waiting for a free training slot: {training} training now, you are next."
            ).format(training=training)
        )
        st.info(
            sentences(
                # Why it waits, from the engine through the store: a worker starting, or none.
                sentences(place, message_text(run.message)),
                _("Training starts by itself; this page updates every second."),
            ),
            icon=":material/hourglass_top:",
        )
    elif run.status == "running":
        if run.phase == "starting" or run.batches is None:
            st.progress(0.0, text=_("Starting the training process..."))
        elif run.phase == "measuring":
            measuring_ui(run)
        else:
            epoch = min(run.epochs_done + 1, run.epochs_total)
            st.progress(
                run.fraction,
                text=" · ".join(
                    (
                        _("Epoch {epoch}/{epochs}").format(epoch=epoch, epochs=run.epochs_total),
                        _("batch {batch}/{batches}").format(
                            batch=run.batch or 0, batches=run.batches
                        ),
                        timing_text(run),
                    )
                ),
            )
    elif run.status == "finished":
        tested = (
            _("Test set: {metrics}.").format(metrics=words.metric_line(run.metrics))
            if run.metrics
            else ""
        )
        st.success(sentences(trained_text(run), tested), icon=":material/check_circle:")
    elif run.status == "diverged":
        st.error(diverged_text(run), icon=":material/warning:")
    elif run.status == "failed":
        st.error(
            _("Training failed: {reason}. Try other settings.").format(
                reason=message_text(run.message)
            ),
            icon=":material/error:",
        )
    elif run.status in ("stopped", "interrupted"):
        kept = (
            _("The weights of the last epoch are kept; you can continue it.")
            if run.epochs_done
            else _("It had not finished an epoch yet.")
        )
        st.info(sentences(ended_text(run), kept), icon=":material/stop_circle:")


def ended_text(run) -> str:
    """How far a stopped or interrupted run got, and why it ended when the store says."""
    done, total = run.epochs_done, run.epochs_total
    reason = message_text(run.message)
    if run.status == "stopped":
        if reason:
            text = ngettext(
                "Stopped after {done} of {total:,} epoch ({reason}).",
                "Stopped after {done} of {total:,} epochs ({reason}).",
                total,
            )
        else:
            text = ngettext(
                "Stopped after {done} of {total:,} epoch.",
                "Stopped after {done} of {total:,} epochs.",
                total,
            )
    elif reason:
        text = ngettext(
            "Interrupted after {done} of {total:,} epoch ({reason}).",
            "Interrupted after {done} of {total:,} epochs ({reason}).",
            total,
        )
    else:
        text = ngettext(
            "Interrupted after {done} of {total:,} epoch.",
            "Interrupted after {done} of {total:,} epochs.",
            total,
        )
    return text.format(done=done, total=total, reason=reason)


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
        0
        if data.own_id(run.dataset) is not None
        else run.settings["train"].get("validation_images"),
        LIVE_POINTS if run.active else ALL_POINTS,
    )
    samples_ui(run, epochs)
