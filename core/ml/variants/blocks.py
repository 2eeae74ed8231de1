"""Keras building blocks every variant shares: the serializable `Autoencoder` model and the
dense encoder and decoder stacks.

Each model exposes named Functional `encoder` and `decoder` models (keras-io style), and the
`Autoencoder` wrapper keeps them across `model.save` / `keras.models.load_model`, which a plain
Functional model would not. Dense variants flatten inside.

Kept apart from core.ml.variants.base, which imports no Keras: the web tier reads variant
metadata without Keras, and a variant module imports this one only inside its `build`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import layers

from core.ml.variants.base import IMAGE_SHAPE, PACKAGE, PIXELS


@keras.saving.register_keras_serializable(package=PACKAGE)
class Autoencoder(keras.Model):
    """An encoder followed by a decoder; `call` returns the reconstruction."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        # Both halves are built Functional models, so the whole needs no symbolic call.
        self.built = True

    def call(self, inputs, training=False):
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **serialize_halves(self)}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        encoder, decoder, rest = deserialize_halves(config)
        return cls(encoder, decoder, **rest)


def serialize_halves(model) -> dict[str, Any]:
    """The encoder and decoder configs, so a subclassed model can be rebuilt from its file."""
    return {
        "encoder": keras.saving.serialize_keras_object(model.encoder),
        "decoder": keras.saving.serialize_keras_object(model.decoder),
    }


def deserialize_halves(config: dict[str, Any]) -> tuple[keras.Model, keras.Model, dict]:
    """(encoder, decoder, the remaining config) from a config written with serialize_halves."""
    config = dict(config)
    encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
    decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
    return encoder, decoder, config


def dense_stack(
    inputs, sizes: Sequence[int], activation: str = "relu", prefix: str = "dense"
) -> keras.KerasTensor:
    """A chain of Dense layers named `{prefix}_1`, `{prefix}_2`, ..."""
    x = inputs
    for index, units in enumerate(sizes, start=1):
        x = layers.Dense(units, activation=activation, name=f"{prefix}_{index}")(x)
    return x


def dense_encoder(
    hidden: Sequence[int],
    code_size: int,
    code_activation: str | None = "relu",
    code_layer: Callable | None = None,
    name: str = "encoder",
) -> keras.Model:
    """Flatten, hidden Dense layers, then the code: a Dense, or `code_layer(x)` when given."""
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    x = dense_stack(x, hidden, prefix="encoder_dense")
    if code_layer is None:
        code_layer = layers.Dense(code_size, activation=code_activation, name="code")
    return keras.Model(inputs, code_layer(x), name=name)


def dense_decoder(
    hidden: Sequence[int],
    code_size: int,
    output_activation: str | None = "sigmoid",
    name: str = "decoder",
) -> keras.Model:
    """Hidden Dense layers from the code, then 784 outputs reshaped to a 28x28x1 image."""
    code = keras.Input(shape=(code_size,), name="code")
    x = dense_stack(code, hidden, prefix="decoder_dense")
    x = layers.Dense(PIXELS, activation=output_activation, name="pixels")(x)
    return keras.Model(code, layers.Reshape(IMAGE_SHAPE, name="image")(x), name=name)


def dense_autoencoder(
    hidden: Sequence[int],
    code_size: int,
    name: str,
    code_activation: str | None = "relu",
    code_layer: Callable | None = None,
) -> Autoencoder:
    """A symmetric dense autoencoder: `hidden` on the way down, reversed on the way up."""
    encoder = dense_encoder(hidden, code_size, code_activation, code_layer)
    decoder = dense_decoder(list(reversed(hidden)), code_size)
    return Autoencoder(encoder, decoder, name=name)
