"""Home: the idea shown before it is told (a test image through the shipped vanilla model's
encoder, its code and its decoder, with the real numbers), where to start, then the variants in
plain words with the maths one click away."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from core.ml import metrics, variants
from ui import identity, images, resources, session, words
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
    st.pills(
        f"Pick a {dataset.noun}",
        labels,
        default=labels[0],
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
    flow.image(images.to_pil(image, PICTURE), caption=f"In: {pixels} pixels", width=PICTURE)
    flow.markdown(f"**Encoder** →  \n:small[{pixels} → {size}]", width="content")
    flow.image(code_picture(code), caption=f"The code: {size} numbers", width="content")
    flow.markdown(f"**Decoder** →  \n:small[{size} → {pixels}]", width="content")
    flow.image(images.to_pil(output, PICTURE), caption="Out: rebuilt", width=PICTURE)
    mse = float(metrics.mse(batch, output)[0])
    st.markdown(
        f"This {label} went in as {pixels:,} numbers, one per pixel. The **encoder** squeezed "
        f"it into the **code**: {size} numbers, {pixels / size:.1f} times fewer (the squares "
        f"above, dark for small and bright for large). The **decoder** rebuilt the {dataset.noun} "
        f"from those {size} numbers alone, with a mean squared error of {mse:.4f} per pixel. "
        f"Since {size} numbers cannot store {pixels:,} pixels one by one, the network had to "
        f"learn what {dataset.noun}s have in common: that is an **autoencoder**."
    )
    st.button(
        f"Another {label}",
        icon=":material/shuffle:",
        on_click=another,
        args=(label,),
        key="home_another_button",
    )


def start_here() -> None:
    """The path of a first lesson, in order, then the rest; a class shows its lesson's pages."""
    noun = session.dataset().noun
    # The Draw page's own title, so the link and the page it opens say the same.
    if session.drawable():
        how = "Draw one and watch it rebuilt."
    else:  # No drawing pad for garments: an upload or a test image.
        how = "Upload a photo or pick one and watch it rebuilt."
    steps = [
        ("pages/draw.py", session.draw_title(), ":material/draw:", how),
        (
            "pages/train.py",
            "Train a model",
            ":material/model_training:",
            "Train your own and watch its loss fall.",
        ),
        (
            "pages/race.py",
            "Race variants",
            ":material/sports_score:",
            "Two to four kinds of autoencoder on the same images.",
        ),
        (
            "pages/latent.py",
            "Explore the latent space",
            ":material/scatter_plot:",
            f"Drag two sliders and invent new {noun}s.",
        ),
    ]
    more = [
        (
            "pages/inside.py",
            "Look inside",
            ":material/biotech:",
            "What the models learned, made visible.",
        ),
        (
            "pages/compare.py",
            "Compare variants",
            ":material/compare:",
            f"Every variant side by side on the same {noun}s.",
        ),
    ]
    # A class's student sees only the lesson's pages (pages/train.py -> "train").
    lesson = identity.lesson()
    steps = [step for step in steps if lesson.shows(step[0][6:-3])]
    more = [step for step in more if lesson.shows(step[0][6:-3])]
    if not steps and not more:
        return
    st.subheader("Start here")
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
                st.markdown(f"**{variant.title}**")
                st.markdown(variant.idea)
                if info and info.get("metrics"):
                    st.caption(f"Test: {words.metric_line(info['metrics'])}")
                with st.expander("How it works"):
                    st.markdown(variant.summary)


def main() -> None:
    dataset = session.dataset()
    st.title("Autoencoder Lab")
    st.markdown(
        f"An **autoencoder** learns to copy its input through a narrow middle. Pick a "
        f"{dataset.noun} and watch the lab's pretrained model do it:"
    )
    showcase()
    start_here()
    st.subheader("The kinds of autoencoder")
    other = "MNIST" if dataset.name == "fashion" else "Fashion-MNIST"
    st.caption(
        f"Each one changes what the narrow middle must do. The figures are each pretrained "
        f"model's on the {dataset.title} test set (10,000 images): BCE is the mean binary "
        "cross-entropy per pixel (with the floor the images' own grey pixels set: no model can "
        "go below it), MSE the mean squared error per pixel (lower is closer), PSNR the peak "
        f"signal-to-noise ratio (higher is closer), {words.NEGATIVE_ELBO} the VAE's negative "
        f"evidence lower bound in nats per image. {other} is one switch away in the sidebar."
    )
    variant_cards()


ensure_navigation()
main()
