"""Latent space: walk the 2-D code of the variational autoencoder with two sliders."""

from __future__ import annotations

import io
from statistics import NormalDist

import numpy as np
import streamlit as st

from core import export, metrics
from core.preprocess import as_batch
from ui import images, latent_pad, plots, state
from ui.boot import ensure_navigation

GRID = 15  # Digits per side of the manifold, as in the seed texts' figures.


def vae() -> state.ModelRef:
    """The VAE chosen in the sidebar: a student's own run of it, or the shipped one.

    The sidebar's model choice applies when the sidebar shows the VAE; otherwise the shipped one.
    """
    if state.current_variant() == "vae":
        return state.current_model("vae")
    return state.pretrained("vae")


def decode(decoder, key: str, z: np.ndarray) -> np.ndarray:
    """Decode codes (N, 2) to images (N, 28, 28) with the decoder's compiled call."""
    return np.asarray(state.fast(decoder, f"{key}/decoder")(np.asarray(z, np.float32)))[..., 0]


# Every cache below is keyed by the model's stable identity (a shipped name or a run id with
# the epoch of its weights) and bounded: students' models come and go.
@st.cache_resource(show_spinner="Decoding the manifold...", max_entries=32)
def manifold(_decoder, key: str, size: int = GRID) -> np.ndarray:
    """A size x size grid of decoded digits at Gaussian quantiles, z2 decreasing downwards."""
    quantiles = [NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, size)]
    codes = np.array([(z1, z2) for z2 in reversed(quantiles) for z1 in quantiles], np.float32)
    return decode(_decoder, key, codes)


@st.cache_resource(show_spinner=False, max_entries=32)
def manifold_picture(_decoder, key: str):
    """The manifold as one RGB picture, composed once; the pad marks the cell in the browser."""
    return images.grid(manifold(_decoder, key), GRID, size=28).convert("RGB")


@st.cache_resource(show_spinner="Encoding the test set...", max_entries=32)
def test_scatter(_model, key: str) -> plots.Scatter:
    data = state.test_set()
    codes = metrics.encode(_model, data.x_test)
    return plots.latent_scatter(codes, data.y_test)


def jpeg(picture) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@st.cache_resource(show_spinner=False, max_entries=16)
def pad_html(_model, key: str) -> str:
    """The latent pad for this model (decoder weights and pictures), built once per model;
    ~1.6 MB, mostly the decoder's float16 weights."""
    quantiles = [NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, GRID)]
    return latent_pad.html(
        export.dense_chain(_model.decoder),
        jpeg(manifold_picture(_model.decoder, key)),
        28,
        quantiles,
        test_scatter(_model, key),
        jpeg(test_scatter(_model, key).image),
        key=key,
    )


def explorer_ui(ref: state.ModelRef) -> None:
    """Sliders, decoded digit, manifold and scatter, all drawn in the browser."""
    ring = None
    drawing = st.session_state.get("last_drawing")
    if drawing is not None:
        z_mean, _ = state.fast(ref.model.encoder, f"{ref.key}/encoder")(as_batch(drawing))
        ring = tuple(round(float(v), 2) for v in np.asarray(z_mean)[0])
    try:
        document = pad_html(ref.model, ref.key)
    except export.NotExportable as reason:  # Every VAE built here is a Dense chain; just in case.
        st.warning(f"This model's decoder cannot run in the browser ({reason}).")
        return
    st.iframe(latent_pad.with_ring(document, ring), height="content")


@st.fragment  # Its widgets rerun only this part, so the pad above is not sent again.
def interpolation_ui(ref: state.ModelRef) -> None:
    st.subheader("Interpolation between two digits")
    data = state.test_set()
    choices = ["My last drawing", *[f"Test digit {d}" for d in range(10)]]
    left, right, steps_column = st.columns([2, 2, 1])
    first = left.selectbox("From", choices, index=1, key="interp_from")
    second = right.selectbox("To", choices, index=8, key="interp_to")
    steps = steps_column.slider("Steps", 4, 12, 8, key="interp_steps")

    def pick(choice: str) -> np.ndarray | None:
        if choice == choices[0]:
            return st.session_state.get("last_drawing")
        digit = int(choice.split()[-1])
        return data.x_test[int((data.y_test == digit).argmax()), ..., 0]

    start, end = pick(first), pick(second)
    if start is None or end is None:
        st.info(
            "Draw a digit on the Draw page first, or pick two test digits.", icon=":material/draw:"
        )
        return
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    pair = np.stack([start, end])[..., None]
    vae_codes = np.asarray(ref.model.encoder(pair, training=False)[0])
    vae_strip = decode(
        ref.model.decoder, ref.key, (1 - weights) * vae_codes[0] + weights * vae_codes[1]
    )
    plain = state.pretrained("deep")
    plain_codes = np.asarray(plain.model.encoder(pair, training=False))
    plain_strip = decode(
        plain.model.decoder, plain.key, (1 - weights) * plain_codes[0] + weights * plain_codes[1]
    )
    st.image(images.strip(vae_strip, size=72), caption="Variational autoencoder (2-D code)")
    st.image(images.strip(plain_strip, size=72), caption="Deep autoencoder (32-D code)")
    st.caption(
        "The VAE was trained to keep its whole code space filled with digits, so every point "
        "on the way decodes to something digit-like. The plain autoencoder only learned to "
        "reconstruct; halfway between two codes it often gives a blend of both or a smudge."
    )


def main() -> None:
    st.title("Explore the latent space")
    st.markdown(
        "A variational autoencoder with a **two-number code** turns every point of a plane "
        "into a digit. Drag the sliders to move through that plane."
    )
    ref = vae()
    if not ref.key.startswith("shipped:"):
        st.caption(f"Your model: {ref.label}")
    explorer_ui(ref)
    interpolation_ui(ref)


ensure_navigation()
main()
