"""The trivial reference page: a fragment with two sliders and a 28x28 image from numpy.

The latent page's slider latency is compared with this page's, measured in the same run, so
the figure says how close the lab gets to Streamlit's own speed limit on this machine.
"""

import numpy as np
import streamlit as st


@st.fragment
def sliders() -> None:
    z1 = st.slider("z1", -3.0, 3.0, 0.0, 0.05, key="z1")
    z2 = st.slider("z2", -3.0, 3.0, 0.0, 0.05, key="z2")
    rows, columns = np.mgrid[0:28, 0:28] / 27.0
    image = np.clip(0.5 + 0.5 * np.sin(6 * rows * z1 + 6 * columns * z2), 0, 1)
    st.image((image * 255).astype(np.uint8), width=196, caption=f"z = ({z1:.2f}, {z2:.2f})")


st.title("Reference")
sliders()
