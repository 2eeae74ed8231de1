"""Home: the idea shown before it is told (a test image through the shipped vanilla model's
encoder, its code and its decoder, with the real numbers), where to start, then the variants in
plain words with the maths one click away."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from core.i18n import _
from core.ml import metrics, variants
from ui import identity, images, resources, services, session, words
from ui.boot import ensure_navigation

SHOWCASE = "vanilla"  # The plainest autoencoder: 784 pixels, a 32-number code, 784 pixels.
PICK = "home_pick"  # The class whose test image goes through the model.
ANOTHER = "home_another"  # How many times "Another one" was pressed for that class.
PICTURE = 140  # CSS pixels: the input and the output, 5x MNIST.
LINK_WIDTH = 230  # CSS pixels: the longest link, "Explore the latent space", with its icon.


def code_picture(code: np.ndarray, cell: int = 22) -> Image.Image:
    """The code as a grid of grey squares (black: the smallest number, white: the largest),
    four rows, so 32 numbers make a 4x8 block beside 140-pixel images."""
    values = np.asarray(code, np.float32).ravel()
    rows = 4 if values.size % 4 == 0 else 1
    span = float(values.max() - values.min()) or 1.0
    scaled = ((values - values.min()) / span).reshape(rows, -1)
    small = Image.fromarray(np.round(scaled * 255).astype(np.uint8), mode="L")
    return small.resize((scaled.shape[1] * cell, rows * cell), Image.Resampling.NEAREST)


def chosen_image(found, labels) -> tuple[np.ndarray, str]:
    """The test image the learner picked: the n-th test image of the chosen class."""
    label = st.session_state.get(PICK) or labels[0]
    klass = labels.index(label)
    shown = np.flatnonzero(found.y_test == klass)
    nth = st.session_state.get(ANOTHER, {}).get(label, 0) % len(shown)
    return found.images(shown[nth]), label


def another(label: str) -> None:
    counts = st.session_state.setdefault(ANOTHER, {})
    counts[label] = counts.get(label, 0) + 1


def showcase() -> None:
    """One test image through the shipped vanilla model, every step shown with its numbers."""
    dataset = session.dataset()
    found = resources.test_set()
    labels = list(dataset.labels)
    noun = _(dataset.noun)
    # The class names stay the pills' values (tests and session_state know them); shown translated.
    st.pills(
        _("Pick a {noun}").format(noun=noun),
        labels,
        default=labels[0],
        format_func=lambda value: _(value),
        key=PICK,
        required=True,
    )
    image, label = chosen_image(found, labels)
    ref = resources.pretrained(SHOWCASE)
    batch = image[np.newaxis]
    code = ref.model.encode(batch)
    output = ref.model.decode(code)
    size = code.shape[-1]
    pixels = image.size

    flow = st.container(horizontal=True, gap="small", vertical_alignment="center", key="idea")
    flow.image(
        images.to_pil(image, PICTURE),
        caption=_("In: {pixels} pixels").format(pixels=pixels),
        width=PICTURE,
    )
    # Translators: an arrow from the input to the code, with how many numbers go in and out.
    flow.markdown(
        _("**Encoder** →  \n:small[{pixels} → {size}]").format(pixels=pixels, size=size),
        width="content",
    )
    flow.image(
        code_picture(code), caption=_("The code: {size} numbers").format(size=size), width="content"
    )
    flow.markdown(
        _("**Decoder** →  \n:small[{size} → {pixels}]").format(pixels=pixels, size=size),
        width="content",
    )
    flow.image(images.to_pil(output, PICTURE), caption=_("Out: rebuilt"), width=PICTURE)
    mse = float(metrics.mse(batch, output)[0])
    # Translators: {label} is the class picked ("7", "Sneaker"); {noun} is "digit" or "garment".
    st.markdown(
        _(
            "This {label} went in as {pixels:,} numbers, one per pixel. The **encoder** squeezed "
            "it into the **code**: {size} numbers, {ratio:.1f} times fewer (the squares above, "
            "dark for small and bright for large). The **decoder** rebuilt the {noun} from those "
            "{size} numbers alone, with a mean squared error of {mse:.4f} per pixel. Since {size} "
            "numbers cannot store {pixels:,} pixels one by one, the network had to learn what "
            "{noun}s have in common: that is an **autoencoder**."
        ).format(label=_(label), pixels=pixels, size=size, ratio=pixels / size, noun=noun, mse=mse)
    )
    st.button(
        _("Another {label}").format(label=_(label)),
        icon=":material/shuffle:",
        on_click=another,
        args=(label,),
        key="home_another_button",
    )
    st.caption(
        _(
            "Source text: chapter 10 “使用自编码器重构输入” (Reconstructing inputs using "
            "autoencoders), section “什么是自编码器？” (What is an autoencoder?)"
        )
    )


def start_here() -> None:
    """The path of a first lesson, in order, then the rest; a class shows its lesson's pages."""
    noun = _(session.dataset().noun)
    # The Draw page's own title, so the link and the page it opens say the same.
    if session.drawable():
        how = _("Draw one and watch it rebuilt.")
    else:  # No drawing pad for garments: an upload or a test image.
        how = _("Upload a photo or pick one and watch it rebuilt.")
    steps = [
        ("pages/draw.py", session.draw_title(), ":material/draw:", how),
        (
            "pages/train.py",
            _("Train a model"),
            ":material/model_training:",
            _("Train your own and watch its loss fall."),
        ),
        (
            "pages/race.py",
            _("Race variants"),
            ":material/sports_score:",
            _("Two to four kinds of autoencoder on the same images."),
        ),
        (
            "pages/latent.py",
            _("Explore the latent space"),
            ":material/scatter_plot:",
            _("Drag two sliders and invent new {noun}s.").format(noun=noun),
        ),
    ]
    more = [
        (
            "pages/inside.py",
            _("Look inside"),
            ":material/biotech:",
            _("What the models learned, made visible."),
        ),
        (
            "pages/compare.py",
            _("Compare variants"),
            ":material/compare:",
            _("Every variant side by side on the same {noun}s.").format(noun=noun),
        ),
    ]
    # A class's student sees only the lesson's pages (pages/train.py -> "train").
    lesson = identity.lesson()
    steps = [step for step in steps if lesson.shows(step[0][6:-3])]
    more = [step for step in more if lesson.shows(step[0][6:-3])]
    if not steps and not more:
        return
    st.subheader(_("Start here"))
    # Cards of one width that wrap: six columns cut "Explore the latent space" to
    # "Explore the latent s" at 1280 pixels, in every engine.
    row = st.container(horizontal=True, gap="medium", key="start_here")
    for number, (page, label, icon, text) in enumerate(steps + more, start=1):
        with row.container(width=LINK_WIDTH):
            shown = f"{number}. {label}" if number <= len(steps) else label
            st.page_link(page, label=shown, icon=icon)
            st.caption(text)


def variant_cards() -> None:
    names = list(identity.lesson().setup.variants)
    for row in range(0, len(names), 3):
        for column, name in zip(st.columns(3), names[row : row + 3], strict=False):
            variant = variants.get(name)
            info = resources.card(name)
            with column.container(border=True):
                st.markdown(f"**{_(variant.title)}**")
                st.markdown(_(variant.idea))
                if info and info.get("metrics"):
                    # Translators: the shipped model's figures on the test set, "BCE 0.0912 · …".
                    st.caption(
                        _("Test: {metrics}").format(metrics=words.metric_line(info["metrics"]))
                    )
                with st.expander(_("How it works")):
                    st.markdown(_(variant.summary))
                    if variant.source:  # Which chapter of the source texts teaches it.
                        st.caption(_(variant.source))


def main() -> None:
    dataset = session.dataset()
    st.title(_("Autoencoder Lab"))
    if session.on_upload():
        services.shipped_models_only()
        return
    st.markdown(
        _(
            "An **autoencoder** learns to copy its input through a narrow middle. Pick a {noun} "
            "and watch the lab's pretrained model do it:"
        ).format(noun=_(dataset.noun))
    )
    showcase()
    start_here()
    st.subheader(_("The kinds of autoencoder"))
    other = "MNIST" if dataset.name == "fashion" else "Fashion-MNIST"
    # Translators: {elbo} is "−ELBO"; {other} is the other dataset, "MNIST" or "Fashion-MNIST".
    st.caption(
        _(
            "Each one changes what the narrow middle must do. The figures are each pretrained "
            "model's on the {dataset} test set (10,000 images): BCE is the mean binary "
            "cross-entropy per pixel (with the floor the images' own grey pixels set: no model "
            "can go below it), MSE the mean squared error per pixel (lower is closer), PSNR the "
            "peak signal-to-noise ratio (higher is closer), {elbo} the VAE's negative evidence "
            "lower bound in nats per image. {other} is one switch away in the sidebar."
        ).format(dataset=_(dataset.title), elbo=words.NEGATIVE_ELBO, other=other)
    )
    variant_cards()


ensure_navigation()
services.guarded(
    main,
    _(
        "Your runs cannot be reached right now; the pretrained models on the other pages work "
        "as usual."
    ),
)
