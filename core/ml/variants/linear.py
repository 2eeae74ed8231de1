"""Linear: no nonlinearity and a squared-error loss, so it learns PCA's principal subspace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.i18n import N_
from core.ml.variants.base import Variant
from core.ml.variants.options import CODE_SIZE

if TYPE_CHECKING:
    from core.ml.variants.blocks import Autoencoder


@dataclass
class LinearConfig:
    code_size: int = 32  # Compared with PCA at the same number of components.


def build(config: LinearConfig | None = None) -> Autoencoder:
    """784 -> code -> 784, all linear."""
    from core.ml.variants.blocks import Autoencoder, dense_decoder, dense_encoder

    config = config or LinearConfig()
    encoder = dense_encoder([], config.code_size, code_activation=None)
    decoder = dense_decoder([], config.code_size, output_activation=None)
    return Autoencoder(encoder, decoder, name="linear")


# The same model in plain Keras, for the standalone file of core.ml.codegen.
CODE = '''
def build_model():
    """784 -> code -> 784 with no activation anywhere: it can only learn PCA's subspace."""
    code = layers.Dense(CONFIG["code_size"], name="code")
    model = dense_autoencoder([], CONFIG["code_size"], code, output_activation=None)
    return model, keras.losses.MeanSquaredError()
'''


VARIANT = Variant(
    name="linear",
    title=N_("Linear (PCA)"),
    summary=N_(
        "Encoder and decoder are plain matrix multiplications with no activation, trained with "
        "mean squared error. The best such model spans exactly the same subspace as the first "
        "principal components, so it rediscovers PCA by gradient descent (its directions need "
        "not be the components themselves, only span the same space). Loss: mean squared error."
    ),
    idea=N_(
        "No curves at all: the encoder and the decoder are each one matrix multiplication. "
        "The best it can learn is what PCA, a classic statistics method, computes directly."
    ),
    source=N_(
        "Source text: chapter 15 “自编码器” (Autoencoders), section “用不完整的线性自编码器执行 "
        "PCA” (Performing PCA with an undercomplete linear autoencoder)"
    ),
    config_class=LinearConfig,
    build=build,
    loss="mse",
    training={"epochs": 40},
    settings=(CODE_SIZE,),
    measures=("pca",),
    code=CODE,
)
