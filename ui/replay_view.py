"""Latent's replay: how a 2-D code formed, epoch by epoch, for the VAE on view (a shipped
model's recorded file, or a run's epochs in the store) or any of the student's runs with a 2-D
code, played frame by frame."""

from __future__ import annotations

import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.i18n import _
from core.ml import cards, choices, replay, variants
from ui import actions, palette, resources, services, session, words


def noun() -> str:
    """What one image of the session's dataset shows, in the reader's language: "digit"."""
    return _(session.dataset().noun)


PLAY = "replay_playing"
FRAME = "replay_frame"
ADVANCE = "replay_advance"  # Set after a frame was shown while playing: show the next one.


def replay_sources(ref: resources.ModelRef) -> dict[str, tuple[str, str, str]]:
    """What can be replayed: the VAE (or conditional VAE) on view, and the student's runs with
    a 2-D code on this dataset (vanilla or deep trained with code size 2); label -> (the label
    as the reader sees it, source key, variant). The label is the picker's value: English,
    whatever the language, so the choice is kept when the reader switches."""
    own = ref.key if ref.run_id is None else f"run:{ref.run_id}"
    model = ref.label.split(" · ")[0].lower()
    name = ref.variant or "vae"
    if variants.get(name).classes:  # A conditional VAE's style, on view.
        sources = {f"{name} ({model})": (f"{words.title(name)} ({model})", own, name)}
    else:
        sources = {
            f"Variational autoencoder ({model})": (
                _("Variational autoencoder ({model})").format(model=model),
                own,
                name,
            )
        }
    for run in actions.my_runs(dataset=session.current_dataset()):
        two = choices.values_of(run.settings, run.variant).get("code_size") == 2 or (
            run.settings["model"].get("latent_dim") == 2
        )
        if two and run.epochs_done and not run.active and f"run:{run.id}" != own:
            title = words.title(run.variant)
            sources[f"Run {run.id}: {title}, 2-D code"] = (
                _("Run {run}: {variant}, 2-D code").format(run=run.id, variant=title),
                f"run:{run.id}",
                run.variant,
            )
    return sources


def frames_of(source: str) -> list[tuple[int, np.ndarray]]:
    """The replay's frames: a shipped model's file, or a run's epochs in the store."""
    if source.startswith("shipped:"):
        return shipped_frames(source.split(":", 1)[1], session.current_dataset())
    return services.live_store().replay(int(source.split(":")[1]))


@st.cache_resource(show_spinner=False, max_entries=8)
def shipped_frames(name: str, dataset: str) -> list[tuple[int, np.ndarray]]:
    name = name.split("/")[-1]
    return replay.load(replay.path_of(cards.model_path(name, dataset=dataset)))


def bounds(frames) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axes that hold every frame's middle 98% of points: the cloud moves inside a still
    frame instead of the frame following the cloud."""
    stacked = np.concatenate([frame for _, frame in frames])
    low, high = np.percentile(stacked, 1, axis=0), np.percentile(stacked, 99, axis=0)
    pad = (high - low) * 0.08 + 1e-3
    return (float(low[0] - pad[0]), float(high[0] + pad[0])), (
        float(low[1] - pad[1]),
        float(high[1] + pad[1]),
    )


def toggle_play(key: str, epochs: list[int]) -> None:
    """Play from the start (or from where it was paused), or pause. A callback: it runs
    before the epoch slider is drawn, so it may move it."""
    st.session_state.pop(ADVANCE, None)
    if st.session_state.get(PLAY) == key:
        st.session_state[PLAY] = None
        return
    st.session_state[PLAY] = key
    if st.session_state.get(key) == epochs[-1]:
        st.session_state[key] = epochs[0]


@st.fragment
def replay_ui(ref: resources.ModelRef) -> None:
    st.subheader(_("How the code forms"))
    sources = replay_sources(ref)
    label = st.selectbox(
        _("Replay"),
        list(sources),
        key="replay_source",
        format_func=lambda value: sources[value][0],
        help=_(
            "The VAE or conditional VAE on view, or any of your runs of vanilla or deep "
            "trained with code size 2."
        ),
    )
    _shown, source, variant = sources[label]
    frames = frames_of(source)
    if len(frames) < 2:
        st.info(
            _(
                "No replay was recorded for this model: runs store one when their code has two "
                "numbers (train Vanilla or Deep with code size 2, the VAE, or the conditional "
                "VAE)."
            ),
            icon=":material/movie:",
        )
        return
    epochs = [epoch for epoch, _codes in frames]
    key = f"{FRAME}_{source}"
    playing = st.session_state.get(PLAY) == key
    if playing and st.session_state.pop(ADVANCE, False):  # The next frame, before the slider.
        later = [epoch for epoch in epochs if epoch > st.session_state.get(key, epochs[0])]
        if later:
            st.session_state[key] = later[0]
        else:  # The last frame was shown: stop there.
            st.session_state[PLAY] = None
            playing = False
    if key not in st.session_state:
        st.session_state[key] = epochs[-1]
    slider, button = st.columns([3, 1], vertical_alignment="bottom")  # "Pause" fits at 820 px.
    epoch = slider.select_slider(_("Epoch"), epochs, key=key, disabled=playing)
    button.button(
        _("Pause") if playing else _("Play"),
        icon=":material/pause:" if playing else ":material/play_arrow:",
        key="replay_play",
        width="stretch",
        on_click=toggle_play,
        args=(key, epochs),
    )
    codes = dict(frames)[epoch]
    found = session.dataset()
    labels = resources.test_set().y_test[: len(codes)]
    # As the reader reads them, in the legend; an upload's images without a folder: "?".
    classes = [words.label_of(found, y, markdown=False) for y in range(len(found.labels))]
    named = [classes[y] if 0 <= y < len(classes) else "?" for y in labels]
    classes += ["?"] if "?" in named else []
    frame = pd.DataFrame({"z1": codes[:, 0], "z2": codes[:, 1], "class": named})
    (x_low, x_high), (y_low, y_high) = bounds(frames)
    chart = (
        alt.Chart(frame)
        .mark_circle(size=12, opacity=0.7)
        .encode(
            x=alt.X("z1:Q", scale=alt.Scale(domain=[x_low, x_high], clamp=True)),
            y=alt.Y("z2:Q", scale=alt.Scale(domain=[y_low, y_high], clamp=True)),
            color=alt.Color(
                "class:N",
                sort=classes,
                # The pad's colours: a digit keeps its colour from the pad to here.
                scale=alt.Scale(domain=classes, range=list(palette.classes())),
                legend=alt.Legend(title=None, orient="right"),
            ),
            # Translators: the class of an image (a digit, a kind of garment), in a tooltip
            tooltip=[alt.Tooltip("class:N", title=_("class"))],
        )
        .properties(
            height=420,
            title=_("{count:,} test {noun}s after epoch {epoch}").format(
                count=len(codes), noun=noun(), epoch=epoch
            ),
        )
    )
    st.altair_chart(chart, width="stretch")
    still = [axis + 1 for axis in range(2) if np.ptp(frames[-1][1][:, axis]) < 1e-6]
    if still:
        st.warning(
            _(
                "z{axis} is the same for every image after the last epoch: its unit died "
                "during training (a ReLU that outputs 0 for every input gets no gradient and "
                "never recovers), so this code has one number left. Train again with a lower "
                "learning rate, or use Deep, whose code layer is linear."
            ).format(axis=still[0]),
            icon=":material/heart_broken:",
        )
    if variants.get(variant).classes:
        told = _(
            "This model is given each {noun}'s class (here, the class its classifier head "
            "names), so its two numbers hold only the style: the classes stay mixed, and "
            "{noun}s that lie together share a style, not a class. Compare the VAE's replay, "
            "where the classes part."
        )
    else:
        # Not "each class finds its own region": Fashion-MNIST's tops (shirt, pullover, coat)
        # share one, as MNIST's 4 and 9 nearly do.
        told = _(
            "Epoch 0 is the untrained network: every {noun} lands in one shapeless cloud. As "
            "it learns, {noun}s that look alike move together, and classes that look different "
            "find regions of their own; look-alike classes share one. Nobody told it the "
            "labels: the colours are added here."
        )
    st.caption(told.format(noun=noun()))
    if playing:
        time.sleep(0.35)  # About three frames a second: slow enough to follow one class.
        st.session_state[ADVANCE] = True
        st.rerun(scope="fragment")
