"""Latent space: walk the 2-D code of the variational autoencoder with two sliders, and replay
how a 2-D code formed epoch by epoch."""

from __future__ import annotations

import io
import time
from statistics import NormalDist

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import i18n
from core.i18n import _
from core.ml import cards, choices, export, replay, variants
from core.ml.data import sample_indices
from core.ml.preprocess import as_batch
from ui import (
    actions,
    images,
    latent_pad,
    palette,
    plots,
    resources,
    services,
    session,
    sidebar,
    words,
)
from ui.boot import ensure_navigation

GRID = 15  # Digits per side of the manifold, as in the seed texts' figures.
# The shipped generative model shown when the sidebar's variant is not one.
GENERATIVE = next(name for name in variants.names() if variants.get(name).generative)


def vae() -> resources.ModelRef:
    """The VAE chosen in the sidebar: a student's own run of it, or the shipped one.

    The sidebar's model choice applies when the sidebar shows the VAE; otherwise the shipped one.
    """
    name = sidebar.current_variant()
    if variants.get(name).generative:  # The sidebar shows a VAE: its chosen model.
        return sidebar.current_model(name)
    if session.on_upload():  # No shipped one: the newest VAE run on it (else it says so).
        return sidebar.current_model(GENERATIVE)
    return resources.pretrained(GENERATIVE)


def noun() -> str:
    """What one image of the session's dataset shows, in the reader's language: "digit"."""
    return _(session.dataset().noun)


def test_choice(label: int) -> str:
    """An interpolation end's value (stable English: the widget keeps it across languages):
    the first test image of class `label` (an upload without classes: its label-th one)."""
    found = session.dataset()
    named = found.labels[label] if label < len(found.labels) else f"#{label}"
    return f"Test {found.noun} {named}"


def test_choice_shown(label: int) -> str:
    """The same, as the reader sees it."""
    named = words.label_of(session.dataset(), label, markdown=False) or f"#{label}"
    return _("Test {noun} {label}").format(noun=noun(), label=named)


def decode(model, z: np.ndarray) -> np.ndarray:
    """Decode codes (N, 2) to images (N, 28, 28)."""
    return model.decode(np.asarray(z, np.float32))[..., 0]


# Every cache below is keyed by the model's stable identity (a shipped name or a run id with
# the epoch of its weights) and bounded: students' models come and go. Their spinner is the
# one around pad_html's call (a cached function's own message is fixed at import, in English).
@st.cache_resource(show_spinner=False, max_entries=32)
def manifold(_model, key: str, size: int = GRID) -> np.ndarray:
    """A size x size grid of decoded digits at Gaussian quantiles, z2 decreasing downwards."""
    quantiles = [NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, size)]
    codes = np.array([(z1, z2) for z2 in reversed(quantiles) for z1 in quantiles], np.float32)
    return decode(_model, codes)


@st.cache_resource(show_spinner=False, max_entries=32)
def manifold_picture(_model, key: str):
    """The manifold as one RGB picture, composed once; the pad marks the cell in the browser."""
    return images.grid(manifold(_model, key), GRID, size=28).convert("RGB")


@st.cache_resource(show_spinner=False, max_entries=32)
def test_scatter(_model, key: str, language: str) -> plots.Scatter:
    """The test set's codes, coloured by class; per language (its legend is in words)."""
    data = resources.test_set()
    codes = _model.encode(data.x_test).reshape(len(data.x_test), -1)
    return plots.latent_scatter(codes, data.y_test, session.dataset().labels)


def jpeg(picture) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@st.cache_resource(show_spinner=False, max_entries=16)
def pad_html(_model, key: str, language: str) -> str:
    """The latent pad for this model (decoder weights and pictures), built once per model and
    language (its captions are in the reader's); ~1.6 MB, mostly the decoder's float16
    weights."""
    quantiles = [NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, GRID)]
    return latent_pad.html(
        export.dense_chain(_model),
        jpeg(manifold_picture(_model, key)),
        28,
        quantiles,
        test_scatter(_model, key, language),
        jpeg(test_scatter(_model, key, language).image),
        key=key,
        noun=session.dataset().noun,
    )


def explorer_ui(ref: resources.ModelRef) -> None:
    """Sliders, decoded digit, manifold and scatter, all drawn in the browser."""
    ring = None
    drawing = session.last_input()
    if drawing is not None:
        z_mean = ref.model.encode(as_batch(drawing))
        ring = tuple(round(float(v), 2) for v in z_mean[0])
    try:
        with st.spinner(_("Decoding the manifold and encoding the test set...")):
            document = pad_html(ref.model, ref.key, i18n.language())
    except export.NotExportable as reason:  # Every VAE built here is a Dense chain; just in case.
        st.warning(
            _("This model's decoder cannot run in the browser ({reason}).").format(reason=reason)
        )
        return
    st.iframe(latent_pad.with_ring(document, ring), height="content")
    st.caption(
        _(
            "Source texts: the translated article “可变自动编码器” (Variational autoencoders), "
            "its last two figures; chapter 10 “使用自编码器重构输入” (Reconstructing inputs "
            "using autoencoders), section “绘制生成的图像” (Plotting generated images)"
        )
    )


@st.fragment  # Its widgets rerun only this part, so the pad above is not sent again.
def interpolation_ui(ref: resources.ModelRef) -> None:
    st.subheader(_("Interpolation between two {noun}s").format(noun=noun()))
    data = resources.test_set()
    picks = [session.last_input_label(), *[test_choice(label) for label in range(10)]]
    shown = dict(zip(picks[1:], [test_choice_shown(label) for label in range(10)], strict=True))

    def named(choice: str) -> str:
        return shown.get(choice) or _(choice)

    left, right, steps_column = st.columns([2, 2, 1])
    first = left.selectbox(_("From"), picks, index=1, key="interp_from", format_func=named)
    second = right.selectbox(_("To"), picks, index=8, key="interp_to", format_func=named)
    steps = steps_column.slider(_("Steps"), 4, 12, 8, key="interp_steps")

    def pick(choice: str) -> np.ndarray | None:
        if choice == picks[0]:
            return session.last_input()
        # The first test image of each class; an upload's missing classes take others.
        return data.images(sample_indices(data.y_test, 10)[picks.index(choice) - 1])[..., 0]

    start, end = pick(first), pick(second)
    if start is None or end is None:
        st.info(
            (
                _("Draw on the Draw page first, or pick two test {noun}s.")
                if session.drawable()
                else _("Reconstruct an image on the Draw page first, or pick two test {noun}s.")
            ).format(noun=noun()),
            icon=":material/draw:",
        )
        return
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    pair = np.stack([start, end])[..., None]
    vae_codes = ref.model.encode(pair)
    vae_strip = decode(ref.model, (1 - weights) * vae_codes[0] + weights * vae_codes[1])
    st.image(images.strip(vae_strip, size=72), caption=_("Variational autoencoder (2-D code)"))
    try:
        plain = sidebar.current_model("deep")
    except resources.NoShippedModel:  # An upload without a Deep run: the VAE's strip alone.
        st.caption(
            _("Train a Deep run on these images to see a plain autoencoder's way between them.")
        )
        return
    plain_codes = plain.model.encode(pair)
    plain_strip = decode(plain.model, (1 - weights) * plain_codes[0] + weights * plain_codes[1])
    st.image(
        images.strip(plain_strip, size=72),
        caption=_("Deep autoencoder ({size}-D code)").format(size=plain.model.code_size),
    )
    st.caption(
        _(
            "The VAE was trained to keep its whole code space filled with {noun}s, so every "
            "point on the way decodes to something {noun}-like. The plain autoencoder only "
            "learned to reconstruct; halfway between two codes it often gives a blend of both "
            "or a smudge."
        ).format(noun=noun())
    )
    st.caption(
        _(
            "Source text: the translated article “带 TensorFlow 的自动编码器” (Autoencoders with "
            "TensorFlow), the end of its section “一个简单的张量流自动编码器” (A simple TensorFlow "
            "autoencoder), and its “结论” (Conclusion)"
        )
    )


# Replay: how the code forms ----------------------------------------------------------------

PLAY = "replay_playing"
FRAME = "replay_frame"
ADVANCE = "replay_advance"  # Set after a frame was shown while playing: show the next one.


def replay_sources(ref: resources.ModelRef) -> dict[str, tuple[str, str]]:
    """What can be replayed: the VAE on view, and the student's runs with a 2-D code on
    this dataset (vanilla or deep trained with code size 2); label -> (the label as the
    reader sees it, source key). The label is the picker's value: English, whatever the
    language, so the choice is kept when the reader switches."""
    own = ref.key if ref.run_id is None else f"run:{ref.run_id}"
    model = ref.label.split(" · ")[0].lower()
    sources = {
        f"Variational autoencoder ({model})": (
            _("Variational autoencoder ({model})").format(model=model),
            own,
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
        help=_("The VAE, or any of your runs of vanilla or deep trained with code size 2."),
    )
    source = sources[label][1]
    frames = frames_of(source)
    if len(frames) < 2:
        st.info(
            _(
                "No replay was recorded for this model: runs store one when their code has two "
                "numbers (train Vanilla or Deep with code size 2, or the VAE)."
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
    # Not "each class finds its own region": Fashion-MNIST's tops (shirt, pullover, coat)
    # share one, as MNIST's 4 and 9 nearly do.
    st.caption(
        _(
            "Epoch 0 is the untrained network: every {noun} lands in one shapeless cloud. As "
            "it learns, {noun}s that look alike move together, and classes that look different "
            "find regions of their own; look-alike classes share one. Nobody told it the "
            "labels: the colours are added here."
        ).format(noun=noun())
    )
    if playing:
        time.sleep(0.35)  # About three frames a second: slow enough to follow one class.
        st.session_state[ADVANCE] = True
        st.rerun(scope="fragment")


def main() -> None:
    st.title(_("Explore the latent space"))
    st.markdown(
        _(
            "A variational autoencoder with a **two-number code** turns every point of a plane "
            "into a {noun}. Drag the sliders to move through that plane."
        ).format(noun=noun())
    )
    ref = vae()
    if not ref.key.startswith("shipped:"):
        st.caption(_("Your model: {model}").format(model=ref.label))
    explorer_ui(ref)
    replay_ui(ref)
    interpolation_ui(ref)


ensure_navigation()
services.guarded(
    main,
    _(
        "Your runs cannot be reached right now; the pretrained models on the other pages work "
        "as usual."
    ),
)
