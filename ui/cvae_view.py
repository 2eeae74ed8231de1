"""A conditional VAE's two controls, the class to draw and the 2-D style: the Latent page's
explorer (a class, two sliders, that class across the style plane, every class in one style),
and Draw's "as another class" (a drawing's style, drawn as each class). The model is a served
one (`core.ml.served.Served` with `classes`)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.i18n import _
from ui import images, session, words

STYLE_GRID = 9  # Styles per side of the plane of one class.
STYLE_RANGE = 2.0  # The plane shown: most training styles lie within two standard deviations.


def class_name(label: int) -> str:
    """Class `label` of the session's dataset as the reader reads it ("7", "Sneaker"), an
    upload's folder name escaped: pills and captions read Markdown."""
    return words.label_of(session.dataset(), label) or f"#{label}"


def classes_of(model) -> list[int]:
    """The classes the model learned here: a run on an upload of 3 folders, the first 3."""
    known = len(session.dataset().labels)
    return list(range(min(model.classes, known) if known else model.classes))


def class_picker(model, key: str, label: str) -> int:
    """Pills of the model's classes, one always chosen."""
    chosen = st.pills(
        label,
        classes_of(model),
        default=0,
        format_func=class_name,
        key=f"{key}_{session.current_dataset()}",
        required=True,
    )
    return int(chosen)


def conditional_ui(ref) -> None:
    """Latent's explorer for a conditional VAE: a class and a style chosen apart."""
    model = ref.model
    noun = _(session.dataset().noun)
    st.markdown(
        _(
            "A conditional VAE is told the class, so its **two-number code** only holds the "
            "rest: the style. Choose a {noun} and move through the styles; the strip below "
            "draws every class in the same style."
        ).format(noun=noun)
    )
    label = class_picker(model, "cvae_class", _("Class to draw"))
    sliders = st.columns(2)
    z1 = sliders[0].slider("z₁", -3.0, 3.0, 0.0, 0.1, key="cvae_z1")
    z2 = sliders[1].slider("z₂", -3.0, 3.0, 0.0, 0.1, key="cvae_z2")
    style = np.array([[z1, z2]], np.float32)
    row = st.container(horizontal=True, gap="medium")
    row.image(
        images.to_pil(model.decode_as(style, [label])[0], 196),
        caption=_("{label} at z = ({z1:.1f}, {z2:.1f})").format(
            label=class_name(label), z1=z1, z2=z2
        ),
        width=196,
    )
    axis = np.linspace(-STYLE_RANGE, STYLE_RANGE, STYLE_GRID, dtype=np.float32)
    # Rows from z₂ high (top) to low, columns from z₁ low to high, as a plot's axes run.
    plane = np.array([[a, b] for b in axis[::-1] for a in axis], np.float32)
    row.image(
        images.grid(model.decode_as(plane, [label] * len(plane))[..., 0], STYLE_GRID, size=36),
        caption=_("{label} across the style plane (z₁, z₂ from -{r:g} to {r:g})").format(
            label=class_name(label), r=STYLE_RANGE
        ),
        width=STYLE_GRID * 36,  # 324 pixels: whole on a 360-pixel phone.
    )
    known = classes_of(model)
    every = model.decode_as(np.repeat(style, len(known), axis=0), known)
    st.image(
        images.strip(every[..., 0], size=64),
        caption=_("Every class in this style: {names}").format(
            names=", ".join(class_name(label) for label in known)
        ),
    )
    st.caption(
        _(
            "The same style looks alike in every class: the class came from the label, so the "
            "two numbers did not have to learn it, and hold how a {noun} is drawn instead. The "
            "unconditional VAE spends its two numbers on telling the classes apart."
        ).format(noun=noun)
    )


def as_every_class_ui(model, image: np.ndarray, noun: str) -> None:
    """Draw's "as another class": the drawing's style, drawn as the class the reader picks
    and as every class."""
    code = model.encode(image[None])[0]
    style, named = code[: model.code_size], int(code[model.code_size :].argmax())
    label = class_picker(model, "draw_as_class", _("Draw it as"))
    row = st.container(horizontal=True, gap="small")
    row.image(images.to_pil(image, 104), caption=_("Input (28x28)"), width=104)
    row.image(
        images.to_pil(model.decode_as(style[None], [label])[0], 104),
        caption=_("As {label}").format(label=class_name(label)),
        width=104,
    )
    known = classes_of(model)
    every = model.decode_as(np.repeat(style[None], len(known), axis=0), known)
    st.image(images.strip(every[..., 0], size=56))
    st.caption(
        _(
            "The classifier head read your {noun} as {named}; the encoder summed up its style "
            "as z = ({z1:.2f}, {z2:.2f}), and the decoder drew that style as each class."
        ).format(noun=noun, named=class_name(named), z1=style[0], z2=style[1])
    )
