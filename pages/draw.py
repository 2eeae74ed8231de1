"""Draw: reconstruct a hand-drawn digit, or noise it and denoise it."""

import streamlit as st

st.title("Draw a digit")
st.markdown(
    """
This page will give you a drawing canvas (or an image upload, or a random test digit). Your
digit is turned into a 28x28 image the way MNIST was made and then **reconstructed** by the
chosen autoencoder, with a per-pixel error map and every variant's attempt side by side. In
**noise and denoise** mode you add Gaussian, salt-and-pepper or masking noise and watch the
denoising autoencoder clean it up, with the PSNR of each image.
"""
)
st.info("The drawing canvas is not available yet.", icon=":material/construction:")
