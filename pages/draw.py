"""Draw: reconstruct your own digit with every variant, or noise it and watch it denoised."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.ml import metrics, noise
from core.ml.preprocess import (
    EmptyDrawing,
    UploadError,
    as_batch,
    canvas_to_mnist,
    upload_to_fashion,
    upload_to_mnist,
)
from ui import images, resources, session, sidebar, words
from ui.boot import ensure_navigation
from ui.drawing_pad import drawing_pad

SOURCES = ["Draw", "Upload", "Test digit"]
PAD_COLUMN = 300  # CSS pixels: the 280-pixel pad and the input choices.
UPLOAD_HINT_DIGIT = "Dark ink on light paper or light ink on dark both work."
UPLOAD_HINT_FASHION = "One garment on a plain background, light or dark."


def canvas_ui() -> np.ndarray | None:
    """The drawing pad; returns its RGBA pixels (280x280), or None before the first stroke."""
    generation = st.session_state.setdefault("canvas_generation", 0)
    image = drawing_pad(key=f"canvas_{generation}")
    # The button and the hint share a row: on a phone every line above the results counts.
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    if row.button("Clear", icon=":material/ink_eraser:", key="clear_canvas"):
        st.session_state["canvas_generation"] = generation + 1  # A new key empties it.
        st.rerun()
    row.caption("One large digit, in the middle.", width="content")
    return image


def input_ui() -> np.ndarray | None:
    """The chosen input as a 28x28 image in [0, 1], or None with a hint shown instead.
    Drawing is for digits: with Fashion-MNIST the input is an upload or a test image."""
    fashion = not session.drawable()
    offered = SOURCES[1:] if fashion else SOURCES
    if st.session_state.get("draw_source") not in offered:
        st.session_state["draw_source"] = offered[-1] if fashion else offered[0]
    source = st.segmented_control(
        "Input",
        offered,
        key="draw_source",
        required=True,
        format_func=lambda choice: "Test image" if choice == SOURCES[2] and fashion else choice,
    )
    try:
        if source == SOURCES[0]:
            return canvas_to_mnist(canvas_ui())
        if source == SOURCES[1]:
            label, hint, prepare = (
                ("A PNG or JPEG photo of one garment", UPLOAD_HINT_FASHION, upload_to_fashion)
                if fashion
                else ("A PNG or JPEG of one digit", UPLOAD_HINT_DIGIT, upload_to_mnist)
            )
            upload = st.file_uploader(
                label,
                type=["png", "jpg", "jpeg"],
                key="draw_upload_fashion" if fashion else "draw_upload",
                max_upload_size=5,
            )
            if upload is None:
                st.caption(hint)
                return None
            return prepare(upload.getvalue())
        data = resources.test_set()
        another = f"Another {session.dataset().noun}"
        if st.button(another, icon=":material/casino:", key="random_digit") or (
            "random_index" not in st.session_state
        ):
            st.session_state["random_index"] = int(np.random.default_rng().integers(10000))
        index = st.session_state["random_index"]
        label = session.dataset().labels[data.y_test[index]]
        st.caption(f"Test image #{index}, labelled {label}")
        return data.images(index)[..., 0]
    except EmptyDrawing as problem:  # Blank, a dot, or a filled square: say which.
        st.info(str(problem), icon=":material/draw:")
    except UploadError as error:
        st.warning(str(error), icon=":material/broken_image:")
    return None


def reconstruct(ref: resources.ModelRef, image: np.ndarray) -> np.ndarray:
    """One image through a model (ONNX Runtime: ~0.1 ms for a dense one)."""
    return ref.model(as_batch(image))[0, ..., 0]


THUMB = 104  # CSS pixels per picture: three side by side fit a 360-pixel phone.
SMALL = 100  # The ten variants' pictures: "Convolutional" fits under one in every engine.


def reconstruct_ui(name: str, image: np.ndarray) -> None:
    ref = sidebar.current_model(name)
    output = reconstruct(ref, image)
    error = np.abs(output - image)
    which = "" if ref.key.startswith("shipped:") else f" ({ref.label.split(' · ')[0]})"
    # Horizontal containers wrap instead of stacking like st.columns does below 640 pixels,
    # and every picture gets one size, so a phone shows them in a row under the pad.
    pictures = st.container(horizontal=True, gap="small")
    pictures.image(images.to_pil(image), caption="Input (28x28)", width=THUMB)
    pictures.image(
        images.to_pil(output),
        caption=f"{words.title(name)}{which} reconstruction",
        width=THUMB,
    )
    pictures.image(images.heatmap(error), caption="Error per pixel (bright: wrong)", width=THUMB)
    batch, recon = as_batch(image), as_batch(output)
    figures = st.container(horizontal=True, gap="medium")
    figures.metric("BCE per pixel", f"{metrics.bce(batch, recon)[0]:.3f}", width="content")
    figures.metric("MSE per pixel", f"{metrics.mse(batch, recon)[0]:.4f}", width="content")
    figures.metric("PSNR", f"{metrics.psnr(batch, recon)[0]:.1f} dB", width="content")

    st.subheader("Every variant on the same input")
    st.caption("Pretrained models; lower mean squared error (MSE) is a closer copy.")
    everyone = st.container(horizontal=True, gap="small")
    for other in resources.shipped_names():
        out = reconstruct(resources.pretrained(other), image)
        everyone.image(
            images.to_pil(out, SMALL),
            caption=f"{words.title(other)} · MSE {metrics.mse(batch, as_batch(out))[0]:.4f}",
            width=SMALL,
        )


def denoise_ui(image: np.ndarray) -> None:
    # The pictures first, the controls under them: on a phone the level slider and the
    # pictures it changes are on screen together.
    pictures = st.container(horizontal=True, gap="small")
    left, middle, right = st.columns([2, 2, 1.2], vertical_alignment="bottom")
    kind = left.selectbox(
        "Noise",
        noise.KINDS,
        key="noise_kind",
        format_func=lambda k: k.replace("_", " ").capitalize(),
    )
    level = middle.slider("Level", 0.0, 1.0, 0.5, 0.05, key="noise_level")
    if right.button(
        "Re-roll",
        icon=":material/refresh:",
        key="noise_seed_button",
        help="Draw new random noise at the same level",
    ):
        st.session_state["noise_seed"] = st.session_state.get("noise_seed", 0) + 1
    noisy = noise.corrupt(image, kind, level, seed=st.session_state.get("noise_seed", 0))
    denoiser = sidebar.current_model("denoising")
    denoised = reconstruct(denoiser, noisy)
    plain = reconstruct(resources.pretrained("conv"), noisy)
    clean = as_batch(image)

    def psnr(candidate) -> str:
        return f"PSNR {metrics.psnr(clean, as_batch(candidate))[0]:.1f} dB"

    for picture, caption in [
        (noisy, f"Noisy input · {psnr(noisy)}"),
        (denoised, f"Denoising autoencoder · {psnr(denoised)}"),
        (plain, f"Plain convolutional · {psnr(plain)}"),
        (image, "Clean input"),
    ]:
        pictures.image(images.to_pil(picture), caption=caption, width=THUMB)
    noun = session.dataset().noun
    st.caption(
        "PSNR compares each image with the clean input: higher is closer. "
        f"{denoiser_learned(denoiser, noun)}; the plain convolutional one only ever saw clean "
        f"{noun}s. Try the other noise kinds and levels to see how far what the denoiser "
        "learned carries over to corruptions it never saw."
    )


def denoiser_learned(ref: resources.ModelRef, noun: str) -> str:
    """What the denoiser on view was trained on: the shipped model's card says which noise
    at which level (the same on both datasets today, but read, not assumed)."""
    if not ref.key.startswith("shipped:"):
        return f"Your denoising run ({ref.label.split(' · ')[0]}) learned to clean noisy {noun}s"
    config = (resources.card("denoising") or {}).get("config") or {}
    kinds = " or ".join(
        "Gaussian" if kind == "gaussian" else kind.replace("_", " ")
        for kind in config.get("noise_kinds", [])
    )
    low, high = config.get("min_noise_level"), config.get("noise_level")
    levels = f"level {high}" if low in (None, high) else f"levels {low} to {high}"
    return (
        f"The pretrained denoising model learned to map {noun}s with {kinds or 'random'} noise "
        f"at {levels} to clean ones"
    )


def main() -> None:
    name = sidebar.current_variant()
    st.title(session.draw_title())
    mode = st.segmented_control(
        "Mode",
        ["Reconstruct", "Noise and denoise"],
        default="Reconstruct",
        key="draw_mode",
        required=True,
    )
    drawing_ui(name, mode)


@st.fragment
def drawing_ui(name: str, mode: str) -> None:
    """The input and its results. A fragment: a stroke reruns this alone, not the sidebar and
    its store lookups (bench/run.py's stroke row compares a stroke with a floor page)."""
    # Not st.columns: below 640 pixels of window those stack, whatever room the main column
    # has, and above it they split the main column even when the sidebar leaves 450 pixels.
    # A wrapping row puts the results beside the pad while they have 22rem (ui/layout.css)
    # and right under it otherwise; the pad scales to its column (ui/drawing_pad.py).
    row = st.container(horizontal=True, gap="medium")
    left = row.container(width=PAD_COLUMN)
    right = row.container(key="draw_results")
    with left:
        image = input_ui()
    with right:
        if image is None:
            st.caption("The reconstructions appear here.")
            return
        session.keep_last_input(image)  # Inside and Latent offer it on this dataset.
        if mode == "Reconstruct":
            reconstruct_ui(name, image)
        else:
            denoise_ui(image)


ensure_navigation()
main()
