"""The Keras side of the variational autoencoder (core.ml.variants.vae declares the variant):
the `Sampling` layer, the `VAE` model and the two terms of its loss in nats per image.

The encoder outputs a Gaussian (z_mean, z_log_var) per image, a sample z is drawn with the
reparameterisation trick, and the decoder gives Bernoulli probabilities for the 784 pixels.
The loss is the negative ELBO in nats per image: summed pixel cross-entropy + beta * KL.
Apart from vae.py because it imports Keras and TensorFlow, which reading the variant must not.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import layers, ops

from core.ml.variants.base import PACKAGE, PIXELS
from core.ml.variants.blocks import deserialize_halves, serialize_halves


@keras.saving.register_keras_serializable(package=PACKAGE)
class Sampling(layers.Layer):
    """Draws z = z_mean + exp(z_log_var / 2) * epsilon, epsilon ~ N(0, I)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def reconstruction_nats(images, probabilities):
    """Per-image sum over the 784 pixels of binary cross-entropy, in nats."""
    flat_x = ops.reshape(images, (-1, PIXELS))
    flat_p = ops.reshape(probabilities, (-1, PIXELS))
    return ops.sum(keras.losses.binary_crossentropy(flat_x[..., None], flat_p[..., None]), axis=1)


def kl_nats(z_mean, z_log_var):
    """Per-image KL(N(z_mean, exp(z_log_var)) || N(0, I)) in closed form, in nats."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class VAE(keras.Model):
    """keras-io style VAE: overrides only train_step, test_step and the metric trackers."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = beta
        self.sampling = Sampling(name="sampling")
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True  # Encoder and decoder are built Functional models.

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, inputs, training=False):
        """The reconstruction from the mean code: deterministic, what the app shows."""
        z_mean, _ = self.encoder(inputs, training=training)
        return self.decoder(z_mean, training=training)

    def losses_of(self, images, training=False):
        """(total, reconstruction, KL) batch means in nats per image, with a sampled z."""
        z_mean, z_log_var = self.encoder(images, training=training)
        z = self.sampling([z_mean, z_log_var])
        reconstruction = ops.mean(reconstruction_nats(images, self.decoder(z, training=training)))
        kl = ops.mean(kl_nats(z_mean, z_log_var))
        return reconstruction + self.beta * kl, reconstruction, kl

    def _track(self, total, reconstruction, kl):
        self.total_loss_tracker.update_state(total)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        images = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            total, reconstruction, kl = self.losses_of(images, training=True)
        gradients = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
        return self._track(total, reconstruction, kl)

    def test_step(self, data):
        images = data[0] if isinstance(data, tuple) else data
        return self._track(*self.losses_of(images))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **serialize_halves(self), "beta": self.beta}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        encoder, decoder, rest = deserialize_halves(config)
        return cls(encoder, decoder, **rest)
