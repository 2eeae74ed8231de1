"""The floor for Draw's stroke latency: the same drawing pad, and after each stroke thirteen
pictures laid out as Draw lays out its own (the input, the reconstruction and its error,
then the ten variants'), taken from a fixed pool: no preprocessing, no model, no metrics.

Draw's stroke-to-reconstruction time is compared with this page's, measured in the same run
(bench/run.py, step "slider/stroke"): what is left between the two is the lab's own work.
"""

import sys
from pathlib import Path

import numpy as np
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run bench/...`

from ui import images
from ui.drawing_pad import drawing_pad

POOL = np.random.default_rng(0).random((32, 28, 28)).astype(np.float32)
THUMB, SMALL = 104, 100  # pages/draw.py's sizes.

st.title("Floor: the pad and 13 fixed pictures")
if drawing_pad(key="canvas") is not None:
    # Every rerun after the first stroke is a stroke: each shows other pictures, so the
    # browser sees new sources as it does on Draw.
    strokes = st.session_state["strokes"] = st.session_state.get("strokes", 0) + 1
    pictures = st.container(horizontal=True, gap="small")
    for index in range(3):
        pictures.image(images.to_pil(POOL[(strokes + index) % len(POOL)]), width=THUMB)
    st.subheader("Every variant on the same input")
    grid = st.container(horizontal=True, gap="small")
    for index in range(10):
        grid.image(images.to_pil(POOL[(strokes + 3 + index) % len(POOL)]), width=SMALL)
