"""Autoencoder Lab's model code: data, variants, training and evaluation.

This package never imports Streamlit, so everything in it can be used from the command line,
from tests and from notebooks as well as from the app. Keras is imported lazily by the modules
that need it, which keeps `import core` cheap for pages that only read model cards.
"""
