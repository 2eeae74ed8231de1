"""The Draw page's canvas, a Streamlit component of our own (components v2, no build step).

streamlit-drawable-canvas draws at a fixed CSS size and scrolls sideways when its column is
narrower: on an 820-pixel tablet with the sidebar open, 162 of its 280 pixels showed. This pad
scales to its column (up to SIZE CSS pixels) and still draws at SIZE x SIZE canvas pixels, so
`core.ml.preprocess.canvas_to_mnist` keeps receiving the image it was written for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.ml.preprocess import drawing_from_png

SIZE = 280  # Canvas pixels, and the largest CSS size shown.
STROKE = 20  # Canvas pixels: after the 10x reduction a 2-pixel pen, as MNIST's digits have.

HTML = f"""<div class="drawing-pad"><canvas width="{SIZE}" height="{SIZE}" role="img"
aria-label="Drawing area: draw one digit with a finger, a pen or the mouse"></canvas></div>"""
CSS = f"""
.drawing-pad {{ width: 100%; max-width: {SIZE}px; }}
.drawing-pad canvas {{
  display: block; width: 100%; height: auto; aspect-ratio: 1 / 1; box-sizing: border-box;
  background: #000; border-radius: 0.5rem; cursor: crosshair;
  touch-action: none; user-select: none; -webkit-user-select: none;
}}
"""
PAD = st.components.v2.component(
    "autoencoder_lab.drawing_pad",
    html=HTML,
    css=CSS,
    js=Path(__file__).with_name("drawing_pad.js").read_text(),
)


def drawing_pad(key: str) -> np.ndarray | None:
    """Shows the pad; returns the drawing as (SIZE, SIZE, 4) RGBA pixels, None before the first
    stroke. A new `key` gives an empty pad."""
    result = PAD(
        data={"size": SIZE, "stroke": STROKE, "ink": "#FFFFFF", "background": "#000000"},
        key=key,
        default={"image": None},
        on_image_change=lambda: None,
        width="stretch",
        height="content",
    )
    image = result.get("image")
    return None if image is None else drawing_from_png(image, SIZE)
