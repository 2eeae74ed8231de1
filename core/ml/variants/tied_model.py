"""The Keras side of the tied-weight stacked autoencoder (core.ml.variants.tied declares the
variant): the `DenseTranspose` layer, the `TiedAutoencoder` model that keeps its ties when
loaded, and greedy layer-wise training, one encoder/decoder pair at a time.

Apart from tied.py because it imports Keras, which reading the variant must not.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from core.ml.variants.base import IMAGE_SHAPE, PACKAGE
from core.ml.variants.blocks import Autoencoder


@keras.saving.register_keras_serializable(package=PACKAGE)
class DenseTranspose(layers.Layer):
    """x @ W.T + b, W the kernel of another Dense layer; only the bias is its own weight."""

    def __init__(self, units: int, activation: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.tied_to = None  # Set by `tie`; the kernel itself is tracked by its own layer.

    def tie(self, dense: layers.Dense) -> DenseTranspose:
        # Set past Keras's attribute tracking, so the kernel is owned (and saved) only once,
        # by the encoder's layer, and this layer reads it as it is at every step.
        object.__setattr__(self, "tied_to", dense)
        return self

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.tied_to.kernel)) + self.bias)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
        }


def tied_decoder(encoder: keras.Model, name: str = "decoder") -> keras.Model:
    """A decoder whose layers are the encoder's Dense layers transposed, in reverse order."""
    dense_layers = [layer for layer in encoder.layers if isinstance(layer, layers.Dense)]
    code_size = dense_layers[-1].units
    code = keras.Input(shape=(code_size,), name="code")
    x = code
    for index, dense in enumerate(reversed(dense_layers)):
        last = index == len(dense_layers) - 1
        units = dense.kernel.shape[0]
        x = DenseTranspose(units, "sigmoid" if last else "relu", name=f"tied_{dense.name}").tie(
            dense
        )(x)
    outputs = layers.Reshape(IMAGE_SHAPE, name="image")(x)
    return keras.Model(code, outputs, name=name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class TiedAutoencoder(Autoencoder):
    """An Autoencoder whose decoder is rebuilt from the encoder when loaded, keeping the ties."""

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["decoder"]  # Rebuilt from the encoder; its biases come from the weights.
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        return cls(encoder, tied_decoder(encoder), **config)


def tied_encoder(sizes: list[int], code_activation: str | None = None) -> keras.Model:
    """Flatten and relu Dense layers of the given sizes; the last one is the code."""
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    for index, units in enumerate(sizes, start=1):
        last = index == len(sizes)
        x = layers.Dense(
            units,
            activation=code_activation if last else "relu",
            name="code" if last else f"encoder_dense_{index}",
        )(x)
    return keras.Model(inputs, x, name="encoder")


def layer_pair(model: TiedAutoencoder, depth: int) -> tuple[keras.Model, keras.Model]:
    """The (input -> layer `depth` -> input) sub-autoencoder for greedy layer-wise training.

    Returns the pair as a model on the previous layer's activations, and the frozen encoder
    that produces those activations from images (the identity on flat pixels for depth 0).
    """
    dense_layers = [layer for layer in model.encoder.layers if isinstance(layer, layers.Dense)]
    decoder_layers = [layer for layer in model.decoder.layers if isinstance(layer, DenseTranspose)]
    dense, transpose = dense_layers[depth], decoder_layers[len(dense_layers) - 1 - depth]
    width = dense.kernel.shape[0]
    inputs = keras.Input(shape=(width,), name=f"pair_{depth}_input")
    # The outermost pair reconstructs pixels (sigmoid); inner pairs reconstruct relu codes.
    pair = keras.Model(inputs, transpose(dense(inputs)), name=f"pair_{depth}")
    images = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Flatten()(images)
    for layer in dense_layers[:depth]:
        x = layer(x)
    return pair, keras.Model(images, x, name=f"features_{depth}")


def train_greedy(
    model: TiedAutoencoder,
    images,
    epochs: int = 5,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    on_pair=None,
) -> list[float]:
    """Train each encoder/decoder pair in turn on the previous layer's codes; final losses.

    The outermost pair reconstructs pixels with cross-entropy; inner pairs reconstruct the
    relu codes below them with squared error. `on_pair(depth, loss)` reports each pair.
    """
    depth_count = len([layer for layer in model.encoder.layers if isinstance(layer, layers.Dense)])
    losses = []
    for depth in range(depth_count):
        pair, features = layer_pair(model, depth)
        inputs = features.predict(images, batch_size=1024, verbose=0)
        pair.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="binary_crossentropy" if depth == 0 else "mse",
        )
        history = pair.fit(inputs, inputs, epochs=epochs, batch_size=batch_size, verbose=0)
        losses.append(float(history.history["loss"][-1]))
        if on_pair is not None:
            on_pair(depth, losses[-1])
    return losses
