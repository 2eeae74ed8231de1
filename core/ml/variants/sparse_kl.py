"""Sparse (KL): each sigmoid code unit's mean activation is pulled towards a small target rho."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.i18n import N_
from core.ml.variants.base import Variant
from core.ml.variants.options import CODE_SIZE, Setting, grid

if TYPE_CHECKING:
    from core.ml.variants.blocks import Autoencoder


@dataclass
class SparseKLConfig:
    code_size: int = 128  # Overcomplete-leaning: sparsity, not size, is the constraint.
    rho: float = 0.05  # Target mean activation of every unit: each fires for ~5% of digits.
    beta: float = 0.05  # Weight of the summed KL term against the per-pixel BCE (about 0.1).


def build(config: SparseKLConfig | None = None) -> Autoencoder:
    """784 -> code (sigmoid) + KL sparsity -> 784 (sigmoid)."""
    from keras import layers

    from core.ml.variants.blocks import dense_autoencoder
    from core.ml.variants.penalties import KLSparsity

    config = config or SparseKLConfig()

    def code_layer(x):
        codes = layers.Dense(config.code_size, activation="sigmoid", name="code")(x)
        return KLSparsity(config.rho, config.beta, name="kl_sparsity")(codes)

    return dense_autoencoder([], config.code_size, name="sparse_kl", code_layer=code_layer)


# The same model in plain Keras, for the standalone file of core.ml.codegen.
CODE = '''
class KLSparsity(layers.Layer):
    """Passes the code through and adds beta * sum_j KL(rho || mean activation of unit j)."""

    def __init__(self, rho, beta, **kwargs):
        super().__init__(**kwargs)
        self.rho, self.beta = rho, beta

    def call(self, codes):
        rho_hat = ops.clip(ops.mean(codes, axis=0), 1e-6, 1.0 - 1e-6)  # One mean per unit.
        rho = self.rho
        kl = rho * ops.log(rho / rho_hat) + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat))
        self.add_loss(self.beta * ops.sum(kl))
        return codes

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "beta": self.beta}


def build_model():
    """784 -> code (sigmoid, KL sparsity) -> 784 (sigmoid); loss: BCE + the KL penalty."""

    def code(x):
        codes = layers.Dense(CONFIG["code_size"], activation="sigmoid", name="code")(x)
        return KLSparsity(CONFIG["rho"], CONFIG["beta"])(codes)

    return dense_autoencoder([], CONFIG["code_size"], code), keras.losses.BinaryCrossentropy()
'''


VARIANT = Variant(
    name="sparse_kl",
    title=N_("Sparse (KL)"),
    summary=N_(
        "The code units are sigmoids, and a penalty pulls the average activation of each unit "
        "over a batch towards a small target rho (0.05): beta times the KL divergence between "
        "a coin with probability rho and one with the unit's mean activation, summed over "
        "units. Each unit ends up firing for only a few images. Loss: per-pixel binary "
        "cross-entropy + beta * sum_j KL(rho || mean activation of unit j)."
    ),
    idea=N_(
        "Each code number is pushed to be switched on only rarely, so each one comes to stand "
        "for a pattern that only some images have."
    ),
    source=N_(
        "Source texts: chapter 10 “使用自编码器重构输入” (Reconstructing inputs using "
        "autoencoders), section “了解稀疏自编码器” (Understanding sparse autoencoders); chapter "
        "15 “自编码器” (Autoencoders), section “稀疏自编码器” (Sparse autoencoder)"
    ),
    config_class=SparseKLConfig,
    build=build,
    # A sigmoid code trains slowly at Adam's usual rate; 1e-2 reaches the bar in 50 epochs.
    training={"epochs": 50, "learning_rate": 1e-2},
    settings=(
        CODE_SIZE,
        Setting("rho", N_("Target activation ρ"), grid(0.01, 0.5, 0.01)),
        Setting("beta", N_("Sparsity weight β"), (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)),
    ),
    measures=("code_activity",),
    recipes={"fashion": {"epochs": 30}},  # No bar on Fashion-MNIST: a shorter run.
    code=CODE,
)
