"""Latent space: decode points of a variational autoencoder's 2-D latent space."""

import streamlit as st

st.title("Explore the latent space")
st.markdown(
    """
A variational autoencoder with a two-number code maps every point of a plane to a digit.
This page will give you two sliders, z1 and z2, that decode a new digit on every move, a map
of where the test digits land in that plane, and a grid of decoded samples, so you can see
how one digit morphs into another.
"""
)
st.info("The latent explorer is not available yet.", icon=":material/construction:")
