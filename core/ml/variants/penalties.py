"""Code-layer penalties for the sparse and contractive autoencoders.

Each penalty is a function of the batch's codes (and, for contraction, the code layer's
kernel) so tests can check it against an independent computation. The layers add it to the
model's loss in `call`, which reads the kernel as it is at that step, never a frozen copy.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from core.ml.variants.base import PACKAGE

EPSILON = 1e-6  # Keeps log(rho_hat) finite when a unit is always off or always on.


def kl_sparsity(codes, rho: float, beta: float):
    """beta * sum_j KL(rho || rho_hat_j), rho_hat_j the mean activation of unit j in the batch.

    Two bugs of widely copied versions are avoided on purpose: rho_hat is a vector (one mean
    per unit, not one mean over all units) and the second term is
    (1 - rho) * log((1 - rho) / (1 - rho_hat)), with its parentheses.
    """
    rho_hat = ops.clip(ops.mean(codes, axis=0), EPSILON, 1.0 - EPSILON)
    kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log((1.0 - rho) / (1.0 - rho_hat))
    return beta * ops.sum(kl)


def contractive_penalty(codes, kernel, weight: float):
    """weight * mean over the batch of ||J||_F^2 for a sigmoid code h = sigmoid(x W + b).

    dh_j/dx_i = h_j (1 - h_j) W_ij, so ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ij^2.
    """
    slope = ops.square(codes * (1.0 - codes))  # (batch, units)
    column_norms = ops.sum(ops.square(kernel), axis=0)  # (units,)
    return weight * ops.mean(ops.sum(slope * column_norms, axis=1))


@keras.saving.register_keras_serializable(package=PACKAGE)
class KLSparsity(layers.Layer):
    """Identity on the code that adds the KL sparsity penalty of its batch to the loss."""

    def __init__(self, rho: float = 0.05, beta: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.beta = beta

    def call(self, codes):
        self.add_loss(kl_sparsity(codes, self.rho, self.beta))
        return codes

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "beta": self.beta}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ContractiveDense(layers.Dense):
    """A sigmoid Dense code layer that adds lambda * ||J_h(x)||_F^2 (batch mean) to the loss."""

    def __init__(self, units: int, contraction: float = 1e-4, **kwargs):
        kwargs["activation"] = "sigmoid"  # The closed-form Jacobian below assumes a sigmoid.
        super().__init__(units, **kwargs)
        self.contraction = contraction

    def call(self, inputs):
        codes = super().call(inputs)
        if self.contraction:
            self.add_loss(contractive_penalty(codes, self.kernel, self.contraction))
        return codes

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "contraction": self.contraction}
