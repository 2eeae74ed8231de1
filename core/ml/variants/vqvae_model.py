"""The Keras side of the VQ-VAE (core.ml.variants.vqvae declares the variant): the codebook
layer that snaps each position of the encoder's output to its nearest codebook vector.

Forward, each of the 7x7 positions takes the codebook vector nearest to the encoder's vector
there; backward, the gradient passes through the snapping unchanged (the straight-through
estimator: z_e + stop_gradient(z_q - z_e)). Two losses teach the codebook and the encoder to
meet: the codebook loss ||sg(z_e) - z_q||^2 moves the chosen vectors to the encoder's outputs,
the commitment loss beta * ||z_e - sg(z_q)||^2 keeps the encoder near its choices (van den
Oord et al. 2017; the keras-io example). Apart from vqvae.py because it imports Keras.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import layers, ops

from core.ml.variants.base import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class VectorQuantizer(layers.Layer):
    """Snaps each vector of the last axis to the nearest of `codes` learned vectors."""

    def __init__(self, codes: int, dim: int, beta: float = 0.25, weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.codes, self.dim, self.beta, self.weight = codes, dim, beta, weight
        self.codebook = self.add_weight(
            shape=(codes, dim),
            initializer=keras.initializers.RandomUniform(-1.0 / codes, 1.0 / codes),
            name="codebook",
        )

    def indices(self, vectors):
        """The index of the nearest codebook vector of each of `vectors` (..., dim)."""
        flat = ops.reshape(vectors, (-1, self.dim))
        distances = (
            ops.sum(flat**2, axis=1, keepdims=True)
            - 2.0 * ops.matmul(flat, ops.transpose(self.codebook))
            + ops.sum(self.codebook**2, axis=1)
        )
        # TensorFlow's own argmin: Keras's (which orders -0 before 0 with bit operations)
        # exports ops ONNX Runtime lacks (Bitcast, BitwiseAnd).
        return ops.reshape(tf.math.argmin(distances, axis=1), ops.shape(vectors)[:-1])

    def call(self, vectors):
        chosen = ops.take(self.codebook, self.indices(vectors), axis=0)
        codebook_loss = ops.mean((ops.stop_gradient(vectors) - chosen) ** 2)
        commitment_loss = ops.mean((vectors - ops.stop_gradient(chosen)) ** 2)
        # `weight` puts these beside a per-pixel MSE as the keras-io example puts them beside
        # the MSE divided by the data's variance (Adam reads the two the same way).
        self.add_loss(self.weight * (codebook_loss + self.beta * commitment_loss))
        return vectors + ops.stop_gradient(chosen - vectors)  # Straight through, backward.

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "codes": self.codes,
            "dim": self.dim,
            "beta": self.beta,
            "weight": self.weight,
        }
