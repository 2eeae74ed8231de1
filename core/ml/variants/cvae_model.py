"""The Keras side of the conditional VAE (core.ml.variants.cvae declares the variant).

The decoder draws an image from a code of two parts: a 2-D style z and the class, one-hot
(`classes` numbers), concatenated. Training gives the style encoder the image with its true
label, q(z | x, y), and maximises the conditional ELBO of log p(x | y): summed pixel
cross-entropy + beta * KL, in nats per image, like the VAE's (core.ml.variants.vae_model).

Every page that only has an image (Draw's other variants, Compare, Odd one out) calls the
model with the image alone: a small classifier head in the encoder, q(y | x) as in Kingma et
al.'s M2 model (2014), names its class first, trained beside the ELBO with its cross-entropy.
So the encoder half is image -> [code (z_mean then the class, one-hot), z_log_var], and the
decoder half is code -> image: the served halves (ONNX) are plain, and a page that knows the
class it wants replaces the code's last `classes` numbers.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import layers, ops

from core.ml.variants.base import PACKAGE
from core.ml.variants.vae_model import VAE, kl_nats, reconstruction_nats


@keras.saving.register_keras_serializable(package=PACKAGE)
class OneHotOfBest(layers.Layer):
    """The most probable class of each row, one-hot: what the classifier head names."""

    def __init__(self, classes: int, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes

    def call(self, probabilities):
        # Equal to the row's maximum, not argmax then one_hot: Keras's one_hot of an argmax
        # exports to an ONNX Bitcast that ONNX Runtime lacks. (A tie of two probabilities,
        # which a softmax all but never gives, would mark both.)
        best = ops.max(probabilities, axis=-1, keepdims=True)
        return ops.cast(ops.equal(probabilities, best), probabilities.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "classes": self.classes}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CVAE(VAE):
    """Trains on (images, labels) batches; called on images alone it reconstructs through the
    class its classifier head names (the VAE's `call`: the encoder's first output is the code).
    Its halves, sampling, trackers and saved config are the VAE's; the head's loss is added."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, beta: float = 1.0, **kwargs):
        super().__init__(encoder, decoder, beta=beta, **kwargs)
        self.classifier = encoder.get_layer("classifier")
        self.style_encoder = encoder.get_layer("style_encoder")
        self.classes = int(self.classifier.output.shape[-1])
        self.classifier_loss_tracker = keras.metrics.Mean(name="classifier_loss")

    @property
    def metrics(self):
        return [*super().metrics, self.classifier_loss_tracker]

    def style(self, images, labels, training=False):
        """(z_mean, z_log_var) of `images` given their integer `labels`."""
        one_hot = ops.one_hot(ops.cast(labels, "int32"), self.classes)
        return self.style_encoder([images, one_hot], training=training), one_hot

    def losses_of(self, images, labels, training=False):
        """(negative conditional ELBO, reconstruction, KL, classifier cross-entropy): batch
        means in nats per image, with a sampled z."""
        (z_mean, z_log_var), one_hot = self.style(images, labels, training)
        z = self.sampling([z_mean, z_log_var])
        drawn = self.decoder(ops.concatenate([z, one_hot], axis=-1), training=training)
        reconstruction = ops.mean(reconstruction_nats(images, drawn))
        kl = ops.mean(kl_nats(z_mean, z_log_var))
        guessed = self.classifier(images, training=training)
        classifier = ops.mean(keras.losses.categorical_crossentropy(one_hot, guessed))
        return reconstruction + self.beta * kl, reconstruction, kl, classifier

    def _track(self, total, reconstruction, kl, classifier):
        self.classifier_loss_tracker.update_state(classifier)
        return super()._track(total, reconstruction, kl)

    def train_step(self, data):
        images, labels = data
        with tf.GradientTape() as tape:
            total, reconstruction, kl, classifier = self.losses_of(images, labels, training=True)
            # The head shares no weight with the ELBO's parts: its cross-entropy trains it
            # alone, and "loss" stays the negative ELBO, comparable with the VAE's.
            objective = total + classifier
        gradients = tape.gradient(objective, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
        return self._track(total, reconstruction, kl, classifier)

    def test_step(self, data):
        images, labels = data
        return self._track(*self.losses_of(images, labels))
