"""Tied-weight stacked autoencoder: the decoder reuses the encoder's kernels, transposed.

Tying halves the parameters of a deep autoencoder and acts as a regulariser. The stack can be
trained end to end, or greedily one encoder/decoder pair at a time as in early deep learning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
from keras import layers, ops

from core.ml.variants.base import IMAGE_SHAPE, PACKAGE, Autoencoder, Variant
from core.ml.variants.options import CODE_SIZE


@dataclass
class TiedConfig:
    hidden: list[int] = field(default_factory=lambda: [128, 64])  # As `deep`, for comparison.
    code_size: int = 32
    code_activation: str | None = None  # Linear, as `deep`: relu code units can die for good.


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


def build(config: TiedConfig | None = None) -> TiedAutoencoder:
    """784-128-64-32 encoder; the decoder is its transpose with its own biases."""
    config = config or TiedConfig()
    encoder = tied_encoder([*config.hidden, config.code_size], config.code_activation)
    return TiedAutoencoder(encoder, tied_decoder(encoder), name="tied")


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


# The same model in plain Keras, for the standalone file of core.ml.codegen.
CODE = '''
class DenseTranspose(layers.Layer):
    """x @ W.T + b with W the kernel of an encoder's Dense layer: only the bias is its own."""

    def __init__(self, dense, activation, **kwargs):
        super().__init__(**kwargs)
        self.dense = dense
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        units = self.dense.kernel.shape[0]
        self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, ops.transpose(self.dense.kernel)) + self.bias)


def build_model():
    """Encoder 784 -> hidden -> code; the decoder multiplies by the same kernels transposed,
    so the model has about half the parameters of an untied one."""
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = layers.Flatten()(inputs)
    sizes = [*CONFIG["hidden"], CONFIG["code_size"]]
    dense_layers = []
    for index, units in enumerate(sizes):
        last = index == len(sizes) - 1
        dense_layers.append(
            layers.Dense(units, activation=CONFIG["code_activation"] if last else "relu")
        )
        x = dense_layers[-1](x)
    for index, dense in enumerate(reversed(dense_layers)):
        last = index == len(dense_layers) - 1
        x = DenseTranspose(dense, "sigmoid" if last else "relu")(x)
    model = keras.Model(inputs, layers.Reshape((28, 28, 1))(x), name="tied")
    return model, keras.losses.BinaryCrossentropy()
'''


VARIANT = Variant(
    name="tied",
    title="Tied-weight stacked",
    summary=(
        "A deep autoencoder (784-128-64-32) whose decoder has no weight matrices of its own: "
        "each decoder layer multiplies by the transpose of the matching encoder matrix. That "
        "halves the parameters and acts as a regulariser. Such stacks were historically "
        "trained greedily, one encoder/decoder pair at a time, then fine-tuned end to end. "
        "Loss: per-pixel binary cross-entropy."
    ),
    idea=(
        "A deep autoencoder whose decoder reuses the encoder's weights, mirrored: half the "
        "weights to learn. The first deep autoencoders were built like this, one layer at a "
        "time."
    ),
    config_class=TiedConfig,
    build=build,
    training={"epochs": 100},
    settings=(CODE_SIZE,),
    code=CODE,
)
