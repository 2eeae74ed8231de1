"""The Draw page's canvas, a Streamlit component of our own (components v2, no build step).

streamlit-drawable-canvas draws at a fixed CSS size and scrolls sideways when its column is
narrower: on an 820-pixel tablet with the sidebar open, 162 of its 280 pixels showed. This pad
scales to its column (up to SIZE CSS pixels) and still draws at SIZE x SIZE canvas pixels, so
`core.ml.preprocess.canvas_to_mnist` keeps receiving the image it was written for.
"""

from __future__ import annotations

import threading
from html import escape
from pathlib import Path

import numpy as np
import streamlit as st

from core import i18n
from core.i18n import N_, _
from core.ml.preprocess import drawing_from_png

SIZE = 280  # Canvas pixels, and the largest CSS size shown.
STROKE = 20  # Canvas pixels: after the 10x reduction a 2-pixel pen, as MNIST's digits have.

LABEL = N_("Drawing area: draw one digit with a finger, a pen or the mouse")
HTML = """<div class="drawing-pad"><canvas width="{size}" height="{size}" role="img"
aria-label="{label}"></canvas></div>"""
CSS = f"""
.drawing-pad {{ width: 100%; max-width: {SIZE}px; }}
.drawing-pad canvas {{
  display: block; width: 100%; height: auto; aspect-ratio: 1 / 1; box-sizing: border-box;
  background: #000; border-radius: 0.5rem; cursor: crosshair;
  touch-action: none; user-select: none; -webkit-user-select: none;
}}
"""
JS = Path(__file__).with_name("drawing_pad.js").read_text()
# One component per language: a component's HTML (and so the canvas's label for screen
# readers) is fixed when it is declared. Declared on first use, in the reader's language.
_PADS: dict[str, object] = {}
_LOCK = threading.Lock()


def _pad():
    code = i18n.language()
    with _LOCK:
        if code not in _PADS:
            name = "autoencoder_lab.drawing_pad"
            _PADS[code] = st.components.v2.component(
                name if code == i18n.SOURCE else f"{name}_{code}",
                html=HTML.format(size=SIZE, label=escape(_(LABEL))),
                css=CSS,
                js=JS,
            )
        return _PADS[code]


def drawing_pad(key: str) -> np.ndarray | None:
    """Shows the pad; returns the drawing as (SIZE, SIZE, 4) RGBA pixels, None before the first
    stroke. A new `key` gives an empty pad."""
    result = _pad()(
        data={"size": SIZE, "stroke": STROKE, "ink": "#FFFFFF", "background": "#000000"},
        key=key,
        default={"image": None},
        on_image_change=lambda: None,
        width="stretch",
        height="content",
    )
    image = result.get("image")
    return None if image is None else drawing_from_png(image, SIZE)
