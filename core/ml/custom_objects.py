"""Importing this module registers the lab's custom Keras layers and models (the `Autoencoder`
wrapper, the VAE, the tied and penalised layers), so that a shipped model loads with plain
Keras:

    import core.ml.custom_objects  # noqa: F401
    model = keras.models.load_model("trained/vae.keras")

It imports Keras; `import core` alone does not (the store, the lab and the cluster's client
have no use for it), and `core.ml.cards.load_model` imports this module itself.
"""

from core.ml.variants import register_custom_objects

register_custom_objects()
