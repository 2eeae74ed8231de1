"""Tied-weight stacked autoencoder: the decoder reuses the encoder's kernels, transposed.

Tying halves the parameters of a deep autoencoder and acts as a regulariser. The stack can be
trained end to end, or greedily one encoder/decoder pair at a time as in early deep learning
(core.ml.variants.tied_model, which holds the Keras side and is imported by `build` only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.i18n import N_
from core.ml.variants.base import Variant
from core.ml.variants.options import CODE_SIZE

if TYPE_CHECKING:
    from core.ml.variants.tied_model import TiedAutoencoder


@dataclass
class TiedConfig:
    hidden: list[int] = field(default_factory=lambda: [128, 64])  # As `deep`, for comparison.
    code_size: int = 32
    code_activation: str | None = None  # Linear, as `deep`: relu code units can die for good.


def build(config: TiedConfig | None = None) -> TiedAutoencoder:
    """784-128-64-32 encoder; the decoder is its transpose with its own biases."""
    from core.ml.variants.tied_model import TiedAutoencoder, tied_decoder, tied_encoder

    config = config or TiedConfig()
    encoder = tied_encoder([*config.hidden, config.code_size], config.code_activation)
    return TiedAutoencoder(encoder, tied_decoder(encoder), name="tied")


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
    title=N_("Tied-weight stacked"),
    summary=N_(
        "A deep autoencoder (784-128-64-32) whose decoder has no weight matrices of its own: "
        "each decoder layer multiplies by the transpose of the matching encoder matrix. That "
        "halves the parameters and acts as a regulariser. Such stacks were historically "
        "trained greedily, one encoder/decoder pair at a time, then fine-tuned end to end. "
        "Loss: per-pixel binary cross-entropy."
    ),
    idea=N_(
        "A deep autoencoder whose decoder reuses the encoder's weights, mirrored: half the "
        "weights to learn. The first deep autoencoders were built like this, one layer at a "
        "time."
    ),
    source=N_(
        "Source text: chapter 15 “自编码器” (Autoencoders), sections “关联权重” (Tying weights) "
        "and “一次训练一个自编码器” (Training one autoencoder at a time)"
    ),
    config_class=TiedConfig,
    build=build,
    training={"epochs": 100},
    settings=(CODE_SIZE,),
    code=CODE,
)
