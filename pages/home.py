"""Home: what an autoencoder is, the variants with their measured quality, where to go next."""

from __future__ import annotations

import streamlit as st

from core.ml import variants
from ui import identity, resources, session, words
from ui.boot import ensure_navigation

LINK_WIDTH = 230  # CSS pixels: the longest link, "Explore the latent space", with its icon.


def variant_cards() -> None:
    names = list(identity.lesson().setup.variants)
    for row in range(0, len(names), 3):
        for column, name in zip(st.columns(3), names[row : row + 3], strict=False):
            variant = variants.get(name)
            info = resources.card(name)
            with column.container(border=True):
                st.markdown(f"**{variant.title}**")
                st.caption(variant.summary)
                if info and info.get("metrics"):
                    st.markdown(f"Test: {words.metric_line(info['metrics'])}")


def main() -> None:
    st.title("Autoencoder Lab")
    st.markdown(
        """
An **autoencoder** is a neural network trained to reproduce its input. An *encoder* squeezes
each 28x28 digit (784 numbers) into a short **code**, and a *decoder* rebuilds the digit from
that code alone. Because the code is too small, or otherwise constrained, to copy the input
pixel by pixel, the network has to discover what digits have in common: strokes, loops,
slants. Changing the constraint gives the different kinds of autoencoder you can explore here.
"""
    )
    st.subheader("Where to go next")
    links = [
        (
            "pages/train.py",
            "Train a model",
            ":material/model_training:",
            "Pick a variant and watch it learn, with a live loss chart.",
        ),
        (
            "pages/race.py",
            "Race variants",
            ":material/sports_score:",
            "Two to four models on the same images, side by side.",
        ),
        (
            "pages/draw.py",
            "Draw a digit",
            ":material/draw:",
            "Reconstruct your own handwriting, or noise it and denoise it.",
        ),
        (
            "pages/latent.py",
            "Explore the latent space",
            ":material/scatter_plot:",
            "Drag two sliders and watch a variational autoencoder dream up digits.",
        ),
        (
            "pages/inside.py",
            "Look inside",
            ":material/biotech:",
            "Features, sparse codes, copying, contraction, PCA and few-label learning.",
        ),
        (
            "pages/compare.py",
            "Compare variants",
            ":material/compare:",
            "Every variant side by side on the same digits.",
        ),
    ]
    # A class's student sees only the lesson's pages (pages/train.py -> "train").
    links = [link for link in links if identity.lesson().shows(link[0][6:-3])]
    # Cards of one width that wrap: six columns cut "Explore the latent space" to
    # "Explore the latent s" at 1280 pixels, in every engine.
    row = st.container(horizontal=True, gap="medium")
    for page, label, icon, text in links:
        with row.container(width=LINK_WIDTH):
            st.page_link(page, label=label, icon=icon)
            st.caption(text)
    st.subheader("The variants")
    found = session.dataset()
    st.caption(
        f"Test metrics on the 10,000 {found.title} test images: BCE is the mean binary "
        "cross-entropy per pixel (shown with the floor the images' own grey pixels set: no "
        "model can go below it), MSE the mean squared error per pixel, PSNR the peak "
        "signal-to-noise ratio (higher is better), -ELBO the VAE's negative evidence lower "
        "bound in nats per image. Switch to Fashion-MNIST in the sidebar for clothes instead "
        "of digits, with a shipped model of every variant."
    )
    variant_cards()


ensure_navigation()
main()
