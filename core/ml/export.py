"""A dense decoder's weights in a compact form a browser can run, and the same forward pass in
NumPy to check it.

The Latent page decodes in the student's browser: a slider move costs no server round trip, so
a class of thirty dragging sliders puts no load on the server and each digit follows the drag
as it moves. The VAE decoder (2-256-512-784, 535k weights) travels once per page visit as
float16, about 1 MB; float16 changes a decoded pixel by less than 0.005 (tests/unit/test_export.py).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("linear", "relu", "sigmoid")


class NotExportable(ValueError):
    """The model is not a plain chain of Dense layers with supported activations."""


@dataclass(frozen=True)
class DenseLayer:
    kernel: np.ndarray  # (inputs, outputs), float16
    bias: np.ndarray  # (outputs,), float16
    activation: str

    def as_json(self) -> dict:
        """Little-endian float16 bytes in base64, row-major (input-major) kernel."""

        def encode(array: np.ndarray) -> str:
            return base64.b64encode(np.ascontiguousarray(array, "<f2").tobytes()).decode()

        rows, columns = self.kernel.shape
        return {
            "rows": rows,
            "columns": columns,
            "activation": self.activation,
            "kernel": encode(self.kernel),
            "bias": encode(self.bias),
        }


def dense_chain(model) -> list[DenseLayer]:
    """The decoder's Dense layers of a served model (core.ml.served) in order, as float16;
    raises NotExportable when its decoder is not such a chain."""
    chain = model.chain("decoder")
    if not chain:
        raise NotExportable("the decoder is not a chain of Dense layers")
    for layer in chain:
        if layer.activation not in ACTIVATIONS:
            raise NotExportable(f"a layer uses {layer.activation}")
    return [
        DenseLayer(layer.kernel.astype(np.float16), layer.bias.astype(np.float16), layer.activation)
        for layer in chain
    ]


def forward(chain: list[DenseLayer], z: np.ndarray) -> np.ndarray:
    """What the browser computes: float32 arithmetic on the float16 weights."""
    x = np.asarray(z, np.float32)
    for layer in chain:
        x = x @ layer.kernel.astype(np.float32) + layer.bias.astype(np.float32)
        if layer.activation == "relu":
            x = np.maximum(x, 0.0)
        elif layer.activation == "sigmoid":
            x = 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))  # exp(60) is still finite.
    return x
