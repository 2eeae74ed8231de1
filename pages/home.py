"""Home: what an autoencoder is, and where to go next."""

import streamlit as st

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
left, middle, right, last = st.columns(4)
with left:
    st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
    st.caption("Pick a variant and watch it learn, with a live loss chart.")
with middle:
    st.page_link("pages/draw.py", label="Draw a digit", icon=":material/draw:")
    st.caption("Reconstruct your own handwriting, or noise it and denoise it.")
with right:
    st.page_link(
        "pages/latent.py", label="Explore the latent space", icon=":material/scatter_plot:"
    )
    st.caption("Drag two sliders and watch a variational autoencoder dream up digits.")
with last:
    st.page_link("pages/compare.py", label="Compare variants", icon=":material/compare:")
    st.caption("Every variant side by side on the same digits.")

st.subheader("The variants")
st.markdown(
    """
| Variant | What makes it learn something useful |
|---|---|
| Vanilla | A 32-number bottleneck: it cannot copy 784 pixels, so it must compress. |
| Deep | Several layers on each side: more expressive compression at the same code size. |
| Convolutional | Filters that slide over the image, so a stroke is recognised wherever it is. |
| Denoising | It sees corrupted digits and must output the clean ones. |
| Sparse (L1 and KL) | Only a few code units may be active for any one digit. |
| Contractive | The code must barely move when the input is nudged. |
| Variational | The code is a probability distribution, so new digits can be sampled. |
| Linear | No nonlinearity: it learns the same subspace as principal component analysis. |
| Tied-weight stacked | The decoder reuses the encoder's weights, transposed: half the parameters. |

Trained models and their measured test metrics appear here as they are added to the lab.
"""
)
