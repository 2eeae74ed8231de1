"""VQ-VAE: a convolutional encoder whose 7x7 grid of vectors is snapped, position by position,
to the nearest of 64 learned codebook vectors; the decoder sees only those. The code of an
image is 49 whole numbers (which codebook vector each patch took): the discrete tokens the
image generators of today build on. The Keras layer is in core.ml.variants.vqvae_model; Inside
decodes the codebook and Draw shows a drawing's tokens (ui.codebook_view).

After the keras-io example "Vector-Quantized Variational Autoencoders" (MNIST, a 7x7x16 code,
48,913 parameters with its 64 codebook vectors).

Measured with its recipe (30 epochs of 55,000 images, batch 128, rate 2e-3 on a cosine, the
best epoch on validation; 620-650 s here): on MNIST, test MSE / variance 0.0385 (the bar,
issue 31: at most 0.0444, the keras-io example's figure on its training data), MSE 0.0037,
PSNR 24.7 dB, every one of the 64 codebook vectors used, perplexity 14.9; on Fashion-MNIST,
MSE / variance 0.0571, MSE 0.0071, 58 codes used, perplexity 27.5. After 3 epochs of 20,000
MNIST images: 0.081.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.i18n import N_
from core.ml.variants.base import IMAGE_SHAPE, Variant
from core.ml.variants.options import Setting

if TYPE_CHECKING:
    from core.ml.variants.blocks import Autoencoder


@dataclass
class VQVAEConfig:
    # Codebook vectors: the keras-io example's model as it prints it (48,913 parameters); it
    # then trains one of 128 (49,937).
    codes: int = 64
    code_dim: int = 16  # Numbers per codebook vector (and per position of the 7x7 grid).
    beta: float = 0.25  # The commitment loss's weight (van den Oord et al.).
    # The codebook and commitment losses' weight beside the per-pixel MSE: MNIST's pixel
    # variance (0.095), so the balance is the keras-io example's (there the MSE is divided
    # by the variance instead).
    vq_weight: float = 0.095


def build(config: VQVAEConfig | None = None) -> Autoencoder:
    """Encoder 28x28 -> conv 32 (stride 2) -> conv 64 (stride 2) -> 1x1 conv to 7x7x16 ->
    codebook; decoder: transposed convs 64, 32 (stride 2) -> 1 channel."""
    import keras
    from keras import layers

    from core.ml.variants.blocks import Autoencoder
    from core.ml.variants.vqvae_model import VectorQuantizer

    config = config or VQVAEConfig()
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="encoder_conv_1")(
        inputs
    )
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="encoder_conv_2")(x)
    x = layers.Conv2D(config.code_dim, 1, padding="same", name="encoder_vectors")(x)
    quantized = VectorQuantizer(
        config.codes, config.code_dim, config.beta, config.vq_weight, name="quantizer"
    )(x)
    encoder = keras.Model(inputs, quantized, name="encoder")

    code = keras.Input(shape=(7, 7, config.code_dim), name="code")
    x = layers.Conv2DTranspose(
        64, 3, strides=2, padding="same", activation="relu", name="decoder_conv_1"
    )(code)
    x = layers.Conv2DTranspose(
        32, 3, strides=2, padding="same", activation="relu", name="decoder_conv_2"
    )(x)
    # keras-io scales the images to [-0.5, 0.5] for a linear output; the lab's are in [0, 1],
    # and a sigmoid keeps the reconstructions there (BCE is measured on them).
    outputs = layers.Conv2DTranspose(1, 3, padding="same", activation="sigmoid", name="image")(x)
    decoder = keras.Model(code, outputs, name="decoder")
    return Autoencoder(encoder, decoder, name="vqvae")


# The same model in plain Keras, for the standalone file of core.ml.codegen.
CODE = '''
class VectorQuantizer(layers.Layer):
    """Snaps each vector of the 7x7 grid to its nearest codebook vector; the gradient passes
    straight through; adds the codebook and commitment losses."""

    def __init__(self, codes, dim, beta, weight, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.beta, self.weight = dim, beta, weight
        self.codebook = self.add_weight(
            shape=(codes, dim), name="codebook",
            initializer=keras.initializers.RandomUniform(-1.0 / codes, 1.0 / codes))

    def call(self, vectors):
        flat = ops.reshape(vectors, (-1, self.dim))
        distances = (ops.sum(flat**2, axis=1, keepdims=True)
                     - 2.0 * ops.matmul(flat, ops.transpose(self.codebook))
                     + ops.sum(self.codebook**2, axis=1))
        indices = ops.reshape(ops.argmin(distances, axis=1), ops.shape(vectors)[:-1])
        chosen = ops.take(self.codebook, indices, axis=0)
        codebook_loss = ops.mean((ops.stop_gradient(vectors) - chosen) ** 2)
        commitment_loss = ops.mean((vectors - ops.stop_gradient(chosen)) ** 2)
        self.add_loss(self.weight * (codebook_loss + self.beta * commitment_loss))
        return vectors + ops.stop_gradient(chosen - vectors)


def build_model():
    """Conv encoder to a 7x7 grid of vectors, snapped to a codebook; transposed-conv decoder.
    Loss: per-pixel MSE, plus the codebook and commitment losses the quantizer adds."""
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(CONFIG["code_dim"], 1, padding="same")(x)
    x = VectorQuantizer(CONFIG["codes"], CONFIG["code_dim"], CONFIG["beta"],
                        CONFIG["vq_weight"], name="quantizer")(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, outputs, name="vqvae"), keras.losses.MeanSquaredError()
'''


VARIANT = Variant(
    name="vqvae",
    title=N_("Vector-quantised (VQ-VAE)"),
    summary=N_(
        "A convolutional encoder turns the image into a 7x7 grid of 16-number vectors; each is "
        "replaced by the nearest of 64 learned codebook vectors, and the decoder rebuilds "
        "the image from those alone. The code is 49 whole numbers: which codebook vector each "
        "patch took, the discrete tokens image generators build on. The gradient skips the "
        "snapping (straight through); a codebook loss pulls the chosen vectors to the "
        "encoder's, a commitment loss keeps the encoder near its choices. Loss: per-pixel MSE "
        "plus both."
    ),
    idea=N_(
        "Describes each patch of the image with a word from a learned dictionary of 64 "
        "entries, and rebuilds the image from those words alone: a picture becomes a short "
        "text of 49 tokens."
    ),
    config_class=VQVAEConfig,
    build=build,
    loss="mse",
    training={"epochs": 30, "keep_best": True},
    settings=(
        Setting(
            "codes",
            N_("Codebook vectors"),
            (8, 16, 32, 64, 128, 256),
            N_("How many entries the dictionary has; unused ones are dead codes."),
        ),
    ),
    live={"epochs": 3, "subset": 5000, "learning_rate": 2e-3},
    measures=("codebook",),
    code=CODE,
)
