"""Train: pick a variant and hyperparameters, then watch it learn live."""

import streamlit as st

st.title("Train an autoencoder")
st.markdown(
    """
This page will let you pick a variant and the hyperparameters that matter for it (epochs,
batch size, learning rate, code size, noise for the denoising autoencoder, sparsity and
contraction weights), then train it in your browser session while a **live loss chart**, a
progress bar and the reconstructions of eight fixed test digits update as it learns. A Stop
button keeps the weights trained so far, and the result becomes your model on the other pages.
"""
)
st.info("Training in the browser is not available yet.", icon=":material/construction:")
