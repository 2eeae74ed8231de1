"""Contractive: the code must barely move when the input moves, ||dh/dx||_F^2 is penalised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.i18n import N_
from core.ml.variants.base import Variant
from core.ml.variants.options import CODE_SIZE, Setting

if TYPE_CHECKING:
    from core.ml.variants.blocks import Autoencoder


@dataclass
class ContractiveConfig:
    code_size: int = 64  # Sigmoid code: the closed-form Jacobian below needs one dense layer.
    # lambda: weight of the batch-mean squared Frobenius norm of the code's Jacobian.
    contraction: float = 5e-4


def build(config: ContractiveConfig | None = None) -> Autoencoder:
    """784 -> code (sigmoid, contractive penalty) -> 784 (sigmoid)."""
    from core.ml.variants.blocks import dense_autoencoder
    from core.ml.variants.penalties import ContractiveDense

    config = config or ContractiveConfig()

    def code_layer(x):
        return ContractiveDense(config.code_size, config.contraction, name="code")(x)

    return dense_autoencoder([], config.code_size, name="contractive", code_layer=code_layer)


# The same model in plain Keras, for the standalone file of core.ml.codegen.
CODE = '''
class ContractiveDense(layers.Dense):
    """A sigmoid code layer that adds lambda * ||dh/dx||_F^2 (batch mean) to the loss.
    For h = sigmoid(x W + b): dh_j/dx_i = h_j (1 - h_j) W_ij, so
    ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ij^2."""

    def __init__(self, units, contraction, **kwargs):
        super().__init__(units, activation="sigmoid", **kwargs)
        self.contraction = contraction

    def call(self, inputs):
        codes = super().call(inputs)
        slope = ops.square(codes * (1.0 - codes))
        column_norms = ops.sum(ops.square(self.kernel), axis=0)
        self.add_loss(self.contraction * ops.mean(ops.sum(slope * column_norms, axis=1)))
        return codes

    def get_config(self):
        config = super().get_config()
        config.pop("activation")
        return {**config, "contraction": self.contraction}


def build_model():
    """784 -> code (sigmoid, contractive penalty) -> 784 (sigmoid); loss: BCE + penalty."""
    code = ContractiveDense(CONFIG["code_size"], CONFIG["contraction"], name="code")
    return dense_autoencoder([], CONFIG["code_size"], code), keras.losses.BinaryCrossentropy()
'''


VARIANT = Variant(
    name="contractive",
    title=N_("Contractive"),
    summary=N_(
        "The loss adds lambda times the squared Frobenius norm of the Jacobian of the code "
        "with respect to the input: how much the code moves when any pixel is nudged. The "
        "reconstruction term wants the code to tell images apart, the penalty wants it to "
        "ignore everything else, so the code becomes robust to small distortions. Loss: "
        "per-pixel binary cross-entropy + lambda * ||dh/dx||_F^2."
    ),
    idea=N_(
        "Penalised whenever a tiny nudge of the pixels moves its code, so small wobbles in "
        "the input barely change the code while real differences between images still do."
    ),
    source=N_(
        "Source text: chapter 10 “使用自编码器重构输入” (Reconstructing inputs using "
        "autoencoders), sections “学习使用收缩式自编码器” (Learning to use contractive "
        "autoencoders) and “定义收缩损失” (Defining the contractive loss)"
    ),
    config_class=ContractiveConfig,
    build=build,
    # Sigmoid codes saturate and learn slowly at 2e-3; both twins use the same recipe.
    training={"epochs": 60, "learning_rate": 5e-3},
    settings=(
        CODE_SIZE,
        Setting(
            "contraction",
            N_("Contraction weight λ"),
            (0.0, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2),
        ),
    ),
    measures=("jacobian",),
    recipes={"fashion": {"epochs": 30}},  # No bar on Fashion-MNIST: a shorter run.
    code=CODE,
)

# The same network without the penalty: evaluate compares its Jacobian norm with the CAE's.
TWIN = Variant(
    name="contractive_twin",
    title=N_("Contractive without penalty"),
    summary=N_("The contractive network with lambda = 0, for comparison."),
    config_class=ContractiveConfig,
    build=build,
    config_overrides={"contraction": 0.0},
    training={"epochs": 60, "learning_rate": 5e-3},
    measures=("jacobian",),
    recipes={"fashion": {"epochs": 30}},  # As its penalised pair.
    shipped=False,
)
