"""Sparse (L1): a 64-unit code whose activations pay an L1 price, so few units fire per digit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.i18n import N_
from core.ml.variants.base import Variant
from core.ml.variants.options import CODE_SIZE, Setting

if TYPE_CHECKING:
    from core.ml.variants.blocks import Autoencoder


@dataclass
class SparseL1Config:
    code_size: int = 64  # Twice vanilla's code: the penalty, not the size, limits it.
    # Weight on mean over the batch of sum_j |h_j|. Keras divides the activity penalty by the
    # batch size, so this is per image and independent of the batch size.
    l1: float = 1e-4


def build(config: SparseL1Config | None = None) -> Autoencoder:
    """784 -> code (relu, L1 activity penalty) -> 784 (sigmoid)."""
    from keras import layers, regularizers

    from core.ml.variants.blocks import dense_autoencoder

    config = config or SparseL1Config()
    code = layers.Dense(
        config.code_size,
        activation="relu",
        activity_regularizer=regularizers.L1(config.l1) if config.l1 else None,
        name="code",
    )
    return dense_autoencoder([], config.code_size, name="sparse_l1", code_layer=code)


# The same model in plain Keras, for the standalone file of core.ml.codegen.
CODE = '''
def build_model():
    """784 -> code (relu, L1 penalty on its activations) -> 784 (sigmoid).
    Loss: per-pixel binary cross-entropy + l1 * sum |code| (Keras averages it over the batch)."""
    penalty = keras.regularizers.L1(CONFIG["l1"]) if CONFIG["l1"] else None
    code = layers.Dense(CONFIG["code_size"], activation="relu", activity_regularizer=penalty,
                        name="code")
    return dense_autoencoder([], CONFIG["code_size"], code), keras.losses.BinaryCrossentropy()
'''


VARIANT = Variant(
    name="sparse_l1",
    title=N_("Sparse (L1)"),
    summary=N_(
        "The code has 64 units, more than vanilla's 32, but every unit that fires adds to the "
        "loss: lambda times the sum of the absolute code activations. The network learns to "
        "describe each image with a few active units, which tend to become interpretable "
        "features. Loss: per-pixel binary cross-entropy + lambda * sum |h|."
    ),
    idea=N_(
        "Gets twice the vanilla model's code numbers (64) but pays for every one it uses, so "
        "each image is described by the few that matter most."
    ),
    source=N_(
        "Source text: the blog post “自编码器” (Autoencoders), part “正则自编码器” "
        "(Regularized autoencoder)"
    ),
    config_class=SparseL1Config,
    build=build,
    training={"epochs": 50},
    settings=(
        CODE_SIZE,
        Setting("l1", N_("L1 weight λ"), (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)),
    ),
    measures=("code_activity",),
    recipes={"fashion": {"epochs": 30}},  # No bar on Fashion-MNIST: a shorter run.
    code=CODE,
)

# The same network without the penalty, trained only so evaluate can show what L1 changes.
TWIN = Variant(
    name="sparse_l1_twin",
    title=N_("Sparse (L1) without penalty"),
    summary=N_("The sparse L1 network with lambda = 0, for comparison."),
    config_class=SparseL1Config,
    build=build,
    config_overrides={"l1": 0.0},
    training={"epochs": 50},
    measures=("code_activity",),
    recipes={"fashion": {"epochs": 30}},  # As its penalised pair.
    shipped=False,
)
