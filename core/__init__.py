"""Autoencoder Lab's model code: data, variants, training and evaluation.

This package never imports Streamlit, so everything in it can be used from the command line,
from tests and from notebooks as well as from the app.

Importing it registers the lab's custom Keras layers and models, so that after `import core`
a shipped model loads with plain `keras.models.load_model("trained/<name>.keras")`.
"""

from core.variants import register_custom_objects

register_custom_objects()
