"""A VQ-VAE's code made visible: its codebook's vectors decoded and how often the test images
use each (Inside's Codebook section), and the token each patch of an image takes (Inside and
Draw). The model is a served one (`core.ml.served.Served` with a `codebook`)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from core.i18n import _
from core.ml import codebook
from ui import images, resources, session
from ui.probes import digit_picker, encoding

PATCH = 40  # Screen pixels per position of the 7x7 grid: 4x4 image pixels, enlarged 10 times.


def token_picture(image: np.ndarray, tokens: np.ndarray) -> Image.Image:
    """The image enlarged, cut by the code's grid, each patch labelled with its token."""
    rows, columns = tokens.shape
    side = PATCH * rows
    picture = images.to_pil(image, side).convert("RGB")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=15)
    for index in range(1, rows):
        draw.line([(0, index * PATCH), (side, index * PATCH)], fill=(90, 90, 200), width=1)
        draw.line([(index * PATCH, 0), (index * PATCH, side)], fill=(90, 90, 200), width=1)
    for row in range(rows):
        for column in range(columns):
            centre = (column * PATCH + PATCH / 2, row * PATCH + PATCH / 2)
            # A dark outline keeps the number readable on white strokes and black paper alike.
            draw.text(
                centre,
                str(int(tokens[row, column])),
                fill=(255, 214, 10),
                font=font,
                anchor="mm",
                stroke_width=2,
                stroke_fill=(0, 0, 0),
            )
    return picture


def tokens_ui(model, image: np.ndarray, noun: str, rebuilt_here: bool = True) -> None:
    """The image's 49 tokens over it; with `rebuilt_here`, beside what the decoder makes of
    them alone (Draw shows that already: its reconstruction)."""
    tokens = model.tokens(image[None])[0]
    pictures = st.container(horizontal=True, gap="small")
    pictures.image(token_picture(image, tokens), width=280)
    if rebuilt_here:
        rebuilt = model.decode_tokens(tokens[None])[0, ..., 0]
        pictures.image(
            images.to_pil(rebuilt), caption=_("Decoded from the tokens alone"), width=140
        )
    figures = {
        "noun": noun,
        "count": tokens.size,
        "distinct": len(np.unique(tokens)),
        "codes": len(model.codebook),
    }
    st.caption(
        (
            _(
                "The {noun}'s code: {count} whole numbers, one per patch of 4x4 pixels, each the "
                "codebook vector nearest to what the encoder saw there. This one uses {distinct} "
                "different vectors of the {codes}; the decoder rebuilt the picture on the right "
                "from these numbers alone."
            )
            if rebuilt_here
            else _(
                "The {noun}'s code: {count} whole numbers, one per patch of 4x4 pixels, each the "
                "codebook vector nearest to what the encoder saw there. This one uses {distinct} "
                "different vectors of the {codes}; the reconstruction above was decoded from "
                "these numbers alone."
            )
        ).format(**figures)
    )


@st.cache_data(show_spinner=False, max_entries=4)
def test_tokens(name: str, dataset: str) -> np.ndarray:
    """Every test image's tokens (N, 7, 7) under a shipped VQ-VAE."""
    return resources.pretrained_model(name).tokens(resources.test_set().x_test)


def codebook_ui() -> None:
    st.header(_("Codebook: the VQ-VAE's dictionary"))
    name = "vqvae"
    if name not in resources.shipped_names():
        st.info(_("This dataset has no shipped VQ-VAE."))
        return
    model = resources.pretrained_model(name)
    table = model.codebook
    noun = _(session.dataset().noun)
    with encoding():
        chosen = test_tokens(name, session.current_dataset())
    counts = np.bincount(chosen.ravel(), minlength=len(table))
    usage = codebook.usage(chosen, len(table))
    order = np.argsort(-counts, kind="stable")
    st.markdown(
        _(
            "The VQ-VAE describes each of the {positions} patches of a {noun} with one of its "
            "{codes} codebook vectors, as a text is written with words from a dictionary. "
            "Below, each vector decoded on its own, repeated over all {positions} patches: the "
            "texture shows the small piece of picture it stands for. The most used come first."
        ).format(positions=chosen[0].size, noun=noun, codes=len(table))
    )
    decoded = model.decode_tokens(np.broadcast_to(order[:, None, None], (len(table), 7, 7)))
    st.image(
        images.grid(decoded[..., 0], columns=8, size=56),
        caption=_("The {codes} codebook vectors decoded, most used first").format(codes=len(table)),
        width=8 * 56,  # Twice their pixels: crisp textures, not a blur across the page.
    )
    figures = st.container(horizontal=True, gap="medium")
    figures.metric(
        _("Perplexity"),
        f"{usage['codebook_perplexity']:.1f}",
        help=_(
            "exp of the entropy of the tokens' frequencies: {codes} if every vector were used "
            "equally often, 1 if one were used everywhere."
        ).format(codes=len(table)),
        width="content",
    )
    figures.metric(
        _("Dead codes"),
        f"{usage['codebook_dead_codes']}",
        help=_("Codebook vectors no test {noun} uses.").format(noun=noun),
        width="content",
    )
    frame = pd.DataFrame({"token": np.arange(len(table)), "count": counts})
    st.altair_chart(
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("token:O", sort="-y", title=_("Codebook vector"), axis=None),
            y=alt.Y("count:Q", title=_("Patches of the test {noun}s").format(noun=noun)),
            tooltip=[
                alt.Tooltip("token:O", title=_("Codebook vector")),
                alt.Tooltip("count:Q", title=_("Patches"), format=","),
            ],
        )
        .properties(height=180),
        width="stretch",
    )
    st.caption(
        _(
            "How often each vector is chosen over the {patches:,} patches of the {count:,} test "
            "{noun}s, most used first. The most used one takes {share:.0%} of them: it is the "
            "first picture above."
        ).format(
            patches=chosen.size,
            count=len(chosen),
            noun=noun,
            share=counts[order[0]] / chosen.size,
        )
    )
    st.subheader(_("Which token each patch takes"))
    _choice, image = digit_picker("inside_codebook_input")
    tokens_ui(model, image, noun)
