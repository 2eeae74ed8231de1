"""Draw: reconstruct your own digit with every variant, or noise it and watch it denoised."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.i18n import N_, _
from core.ml import metrics, noise
from core.ml.data import DatasetUnavailable
from core.ml.preprocess import (
    EmptyDrawing,
    UploadError,
    as_batch,
    canvas_to_mnist,
    upload_to_fashion,
    upload_to_mnist,
)
from core.store import StoreError
from ui import codebook_view, cvae_view, images, resources, services, session, sidebar, words
from ui.boot import ensure_navigation
from ui.drawing_pad import drawing_pad

# The inputs and modes are the widgets' values (session_state, links, tests): stable English,
# shown translated through format_func.
SOURCES = [N_("Draw"), N_("Upload"), N_("Test digit")]
MODES = [N_("Reconstruct"), N_("Noise and denoise")]
PAD_COLUMN = 300  # CSS pixels: the 280-pixel pad and the input choices.
UPLOAD_HINT_DIGIT = N_("Dark ink on light paper or light ink on dark both work.")
UPLOAD_HINT_FASHION = N_("One garment on a plain background, light or dark.")
# core.ml.noise's kinds as the noise picker names them, and inside a sentence.
NOISE_NAMES = {
    # Translators: options of Draw's "Noise" picker
    "gaussian": N_("Gaussian"),
    "salt_and_pepper": N_("Salt and pepper"),
    "masking": N_("Masking"),
}
NOISE_WORDS = {
    "gaussian": N_("Gaussian"),
    # Translators: a noise kind inside "… learned to map digits with {kinds} noise …" (the
    # same message as the Train page's noise kind)
    "salt_and_pepper": N_("salt and pepper"),
    "masking": N_("masking"),
}


def noun() -> str:
    """What one image of the session's dataset shows, in the reader's language: "digit"."""
    return _(session.dataset().noun)


def canvas_ui() -> np.ndarray | None:
    """The drawing pad; returns its RGBA pixels (280x280), or None before the first stroke."""
    generation = st.session_state.setdefault("canvas_generation", 0)
    image = drawing_pad(key=f"canvas_{generation}")
    # The button and the hint share a row: on a phone every line above the results counts.
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    if row.button(_("Clear"), icon=":material/ink_eraser:", key="clear_canvas"):
        st.session_state["canvas_generation"] = generation + 1  # A new key empties it.
        st.rerun()
    row.caption(_("One large digit, in the middle."), width="content")
    return image


def input_ui() -> np.ndarray | None:
    """The chosen input as a 28x28 image in [0, 1], or None with a hint shown instead.
    Drawing is for digits: with Fashion-MNIST the input is an upload or a test image."""
    fashion = not session.drawable()
    offered = SOURCES[1:] if fashion else SOURCES
    if st.session_state.get("draw_source") not in offered:
        st.session_state["draw_source"] = offered[-1] if fashion else offered[0]
    source = st.segmented_control(
        _("Input"),
        offered,
        key="draw_source",
        required=True,
        format_func=lambda choice: (
            _("Test image") if choice == SOURCES[2] and fashion else _(choice)
        ),
    )
    try:
        if source == SOURCES[0]:
            return canvas_to_mnist(canvas_ui())
        if source == SOURCES[1]:
            label, hint, prepare = (
                own_upload()
                if session.on_upload()
                else (
                    _("A PNG or JPEG photo of one garment"),
                    _(UPLOAD_HINT_FASHION),
                    upload_to_fashion,
                )
                if fashion
                else (_("A PNG or JPEG of one digit"), _(UPLOAD_HINT_DIGIT), upload_to_mnist)
            )
            # Each its own: a garment's photo is no input of an upload's models.
            key = "draw_upload_own" if session.on_upload() else "draw_upload_fashion"
            upload = st.file_uploader(
                label,
                type=["png", "jpg", "jpeg"],
                key=key if fashion else "draw_upload",
                max_upload_size=5,
            )
            if upload is None:
                st.caption(hint)
                return None
            return prepare(upload.getvalue())
        data = resources.test_set()
        another = _("Another {noun}").format(noun=noun())
        if st.button(another, icon=":material/casino:", key="random_digit") or (
            "random_index" not in st.session_state
        ):
            st.session_state["random_index"] = int(np.random.default_rng().integers(10000))
        index = st.session_state["random_index"]
        index = st.session_state["random_index"] = index % len(data.y_test)  # An upload's few.
        label = words.label_of(session.dataset(), data.y_test[index])
        st.caption(
            _("Test image #{index}, labelled {label}").format(index=index, label=label)
            if label
            else _("Test image #{index}").format(index=index)
        )
        return data.images(index)[..., 0]
    except EmptyDrawing as problem:  # Blank, a dot, or a filled square: say which.
        st.info(str(problem), icon=":material/draw:")
    except UploadError as error:
        st.warning(str(error), icon=":material/broken_image:")
    return None


def other_name(ref: resources.ModelRef) -> str:
    """A picture's name in the row of other models: its variant, and which run it is."""
    if ref.run_id is None:
        return words.title(ref.variant)
    # Translators: a student's run under its picture on Draw: "Deep (Run 12)"
    return _("{variant} ({run})").format(
        variant=words.title(ref.variant), run=ref.label.split(" · ")[0]
    )


def own_upload():
    """Draw's upload on a dataset of one's own: prepared by the recipe its images were."""
    from functools import partial

    from core.ml import data, own_images

    row = services.live_store().dataset_row(data.own_id(session.current_dataset()))
    recipe = row.recipe if row is not None else "resize"
    hint = _("It is prepared as your dataset's images were ({recipe}).").format(
        recipe=_(own_images.RECIPES.get(recipe, recipe))
    )
    return _("A PNG or JPEG image"), hint, partial(own_images.prepare_one, recipe=recipe)


def reconstruct(ref: resources.ModelRef, image: np.ndarray) -> np.ndarray:
    """One image through a model (ONNX Runtime: ~0.1 ms for a dense one)."""
    return ref.model(as_batch(image))[0, ..., 0]


THUMB = 104  # CSS pixels per picture: three side by side fit a 360-pixel phone.
SMALL = 100  # The ten variants' pictures: "Convolutional" fits under one in every engine.


def reconstruct_ui(name: str, image: np.ndarray) -> None:
    ref = sidebar.current_model(name)
    output = reconstruct(ref, image)
    error = np.abs(output - image)
    title = words.title(name)
    caption = (
        _("{variant} reconstruction").format(variant=title)
        if ref.key.startswith("shipped:")
        # Translators: {run} names the student's run, e.g. "Run 12"
        else _("{variant} ({run}) reconstruction").format(
            variant=title, run=ref.label.split(" · ")[0]
        )
    )
    # Horizontal containers wrap instead of stacking like st.columns does below 640 pixels,
    # and every picture gets one size, so a phone shows them in a row under the pad.
    pictures = st.container(horizontal=True, gap="small")
    pictures.image(images.to_pil(image), caption=_("Input (28x28)"), width=THUMB)
    pictures.image(images.to_pil(output), caption=caption, width=THUMB)
    pictures.image(images.heatmap(error), caption=_("Error per pixel (bright: wrong)"), width=THUMB)
    batch, recon = as_batch(image), as_batch(output)
    figures = st.container(horizontal=True, gap="medium")
    figures.metric(_("BCE per pixel"), f"{metrics.bce(batch, recon)[0]:.3f}", width="content")
    figures.metric(_("MSE per pixel"), f"{metrics.mse(batch, recon)[0]:.4f}", width="content")
    figures.metric("PSNR", f"{metrics.psnr(batch, recon)[0]:.1f} dB", width="content")
    if ref.model.classes:  # A conditional VAE: the drawing's style, as another class.
        st.subheader(_("Your {noun} as another {noun}").format(noun=noun()))
        cvae_view.as_every_class_ui(ref.model, image, noun())
    if ref.model.codebook is not None:  # A VQ-VAE: its code is a grid of tokens.
        st.subheader(_("Its code: a grid of tokens"))
        codebook_view.tokens_ui(ref.model, image, noun(), rebuilt_here=False)

    if session.on_upload():
        st.subheader(_("Your other runs on the same input"))
        others = [other for other in sidebar.newest_runs() if other.key != ref.key]
        st.caption(
            _("Your newest run of each variant; lower MSE is a closer copy.")
            if others
            else _("Train other variants on these pictures, and they appear here beside it.")
        )
    else:
        st.subheader(_("Every variant on the same input"))
        st.caption(_("Pretrained models; lower mean squared error (MSE) is a closer copy."))
        others = [resources.pretrained(other) for other in resources.shipped_names()]
    everyone = st.container(horizontal=True, gap="small")
    for other in others:
        out = reconstruct(other, image)
        mse = metrics.mse(batch, as_batch(out))[0]
        everyone.image(
            images.to_pil(out, SMALL),
            caption=f"{other_name(other)} · MSE {mse:.4f}",
            width=SMALL,
        )
    st.caption(
        _(
            "Source texts: chapter 15 “自编码器” (Autoencoders), section “可视化重建” "
            "(Visualizing reconstructions); chapter 10 “使用自编码器重构输入” (Reconstructing "
            "inputs using autoencoders), section “绘制重建图像” (Plotting the reconstructed images)"
        )
    )


def denoise_ui(image: np.ndarray) -> None:
    # The pictures first, the controls under them: on a phone the level slider and the
    # pictures it changes are on screen together.
    pictures = st.container(horizontal=True, gap="small")
    left, middle, right = st.columns([2, 2, 1.2], vertical_alignment="bottom")
    kind = left.selectbox(
        _("Noise"),
        noise.KINDS,
        key="noise_kind",
        format_func=lambda k: (
            _(NOISE_NAMES[k]) if k in NOISE_NAMES else k.replace("_", " ").capitalize()
        ),
    )
    level = middle.slider(_("Level"), 0.0, 1.0, 0.5, 0.05, key="noise_level")
    if right.button(
        _("Re-roll"),
        icon=":material/refresh:",
        key="noise_seed_button",
        help=_("Draw new random noise at the same level"),
    ):
        st.session_state["noise_seed"] = st.session_state.get("noise_seed", 0) + 1
    noisy = noise.corrupt(image, kind, level, seed=st.session_state.get("noise_seed", 0))
    denoiser = sidebar.current_model("denoising")
    denoised = reconstruct(denoiser, noisy)
    try:
        plain = reconstruct(sidebar.current_model("conv"), noisy)
    except resources.NoShippedModel:  # An upload without a convolutional run: left out.
        plain = None
    clean = as_batch(image)

    def psnr(candidate) -> float:
        return float(metrics.psnr(clean, as_batch(candidate))[0])

    shown = [
        (noisy, _("Noisy input · PSNR {psnr:.1f} dB").format(psnr=psnr(noisy))),
        (denoised, _("Denoising autoencoder · PSNR {psnr:.1f} dB").format(psnr=psnr(denoised))),
    ]
    if plain is not None:
        shown.append(
            (plain, _("Plain convolutional · PSNR {psnr:.1f} dB").format(psnr=psnr(plain)))
        )
    for picture, caption in [*shown, (image, _("Clean input"))]:
        pictures.image(images.to_pil(picture), caption=caption, width=THUMB)
    st.caption(denoiser_learned(denoiser, noun(), plain is not None))
    st.caption(
        _(
            "Source text: chapter 10 “使用自编码器重构输入” (Reconstructing inputs using "
            "autoencoders), section “探索降噪自编码器” (Exploring denoising autoencoders)"
        )
    )


def denoiser_learned(ref: resources.ModelRef, noun: str, plain: bool = True) -> str:
    """The caption under the pictures: what PSNR says, and what the denoiser on view was
    trained on: the shipped model's card says which noise at which level (the same on both
    datasets today, but read, not assumed). `noun` is in the reader's language; `plain`
    whether a plain convolutional model is shown beside it."""
    if not plain:  # An upload of one's own without a convolutional run on it.
        return _(
            "PSNR compares each image with the clean input: higher is closer. Your denoising "
            "run ({run}) learned to clean noisy {noun}s. Train a Convolutional run on these "
            "images too, and it appears beside it: a model that only ever saw clean ones."
        ).format(run=ref.label.split(" · ")[0], noun=noun)
    if not ref.key.startswith("shipped:"):
        return _(
            "PSNR compares each image with the clean input: higher is closer. Your denoising "
            "run ({run}) learned to clean noisy {noun}s; the plain convolutional one only ever "
            "saw clean {noun}s. Try the other noise kinds and levels to see how far what the "
            "denoiser learned carries over to corruptions it never saw."
        ).format(run=ref.label.split(" · ")[0], noun=noun)
    config = (resources.card("denoising") or {}).get("config") or {}
    kinds = ""
    for kind in config.get("noise_kinds", []):
        word = _(NOISE_WORDS[kind]) if kind in NOISE_WORDS else kind.replace("_", " ")
        # Translators: a list of noise kinds, e.g. "Gaussian or masking"
        kinds = _("{kinds} or {kind}").format(kinds=kinds, kind=word) if kinds else word
    low, high = config.get("min_noise_level"), config.get("noise_level")
    levels = (
        _("level {level}").format(level=high)
        if low in (None, high)
        else _("levels {low} to {high}").format(low=low, high=high)
    )
    # Translators: {kinds} lists the noise kinds ("Gaussian or masking"), {levels} is "level
    # 0.5" or "levels 0.1 to 0.5"
    return _(
        "PSNR compares each image with the clean input: higher is closer. The pretrained "
        "denoising model learned to map {noun}s with {kinds} noise at {levels} to clean ones; "
        "the plain convolutional one only ever saw clean {noun}s. Try the other noise kinds "
        "and levels to see how far what the denoiser learned carries over to corruptions it "
        "never saw."
    ).format(noun=noun, kinds=kinds or _("random"), levels=levels)


def main() -> None:
    name = sidebar.current_variant()
    st.title(session.draw_title())
    mode = st.segmented_control(
        _("Mode"),
        MODES,
        default=MODES[0],
        key="draw_mode",
        required=True,
        format_func=lambda value: _(value),
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
            st.caption(_("The reconstructions appear here."))
            return
        session.keep_last_input(image)  # Inside and Latent offer it on this dataset.
        try:
            if mode == MODES[0]:
                reconstruct_ui(name, image)
            else:
                denoise_ui(image)
        except resources.NoShippedModel as missing:  # An upload without that run: say so.
            services.no_shipped_model(missing)  # Here too: a fragment's rerun is unguarded.
        except (StoreError, DatasetUnavailable) as error:  # An upload's rows or images.
            services.fragment_failed(error)


ensure_navigation()
services.guarded(
    main,
    _(
        "Your runs cannot be reached right now; the pretrained models on the other pages work "
        "as usual."
    ),
)
