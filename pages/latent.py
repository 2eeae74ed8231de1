"""Latent space: walk the 2-D code of the variational autoencoder with two sliders, and replay
how a 2-D code formed epoch by epoch."""

from __future__ import annotations

import io
from statistics import NormalDist

import numpy as np
import streamlit as st

from core import i18n
from core.i18n import _
from core.ml import export, variants
from core.ml.data import DatasetUnavailable, sample_indices
from core.ml.preprocess import as_batch
from core.store import StoreError
from ui import (
    cvae_view,
    images,
    latent_pad,
    plots,
    resources,
    services,
    session,
    sidebar,
    words,
)
from ui.boot import ensure_navigation
from ui.replay_view import replay_ui

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
    found = session.dataset()
    names = [words.label_of(found, label, markdown=False) for label in range(len(found.labels))]
    return plots.latent_scatter(codes, data.y_test, names)


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
    except (StoreError, DatasetUnavailable) as error:  # A fragment's rerun is unguarded.
        services.fragment_failed(error)
        return
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


def main() -> None:
    st.title(_("Explore the latent space"))
    name = sidebar.current_variant()
    if variants.get(name).classes:  # A conditional VAE: a class and a style, chosen apart.
        ref = sidebar.current_model(name)
        if not ref.key.startswith("shipped:"):
            st.caption(_("Your model: {model}").format(model=ref.label))
        cvae_view.conditional_ui(ref)
        replay_ui(ref)
        return
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
