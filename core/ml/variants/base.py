"""Pieces every variant shares: the serializable `Autoencoder` model and dense building blocks.

Every model of the lab takes float32 images in [0, 1] shaped (N, 28, 28, 1) and returns
reconstructions of the same shape; dense variants flatten inside. Each model exposes named
Functional `encoder` and `decoder` models (keras-io style), and the `Autoencoder` wrapper keeps
them across `model.save` / `keras.models.load_model`, which a plain Functional model would not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
from keras import layers

PACKAGE = "autoencoder_lab"
IMAGE_SHAPE = (28, 28, 1)
PIXELS = 28 * 28


@keras.saving.register_keras_serializable(package=PACKAGE)
class Autoencoder(keras.Model):
    """An encoder followed by a decoder; `call` returns the reconstruction."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        # Both halves are built Functional models, so the whole needs no symbolic call.
        self.built = True

    def call(self, inputs, training=False):
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **serialize_halves(self)}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        encoder, decoder, rest = deserialize_halves(config)
        return cls(encoder, decoder, **rest)


def serialize_halves(model) -> dict[str, Any]:
    """The encoder and decoder configs, so a subclassed model can be rebuilt from its file."""
    return {
        "encoder": keras.saving.serialize_keras_object(model.encoder),
        "decoder": keras.saving.serialize_keras_object(model.decoder),
    }


def deserialize_halves(config: dict[str, Any]) -> tuple[keras.Model, keras.Model, dict]:
    """(encoder, decoder, the remaining config) from a config written with serialize_halves."""
    config = dict(config)
    encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
    decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
    return encoder, decoder, config


@dataclass(frozen=True)
class Variant:
    """What the registry knows about one variant: how to build it and how to teach it."""

    name: str
    title: str
    summary: str  # One paragraph for the app: the constraint that makes it learn, and its loss.
    config_class: type
    build: Callable[[Any], keras.Model]
    # Two sentences in plain words for a first-time learner (Home's cards): what it does and
    # why, with no formula; `summary` is one click away for the maths.
    idea: str = ""
    loss: str = "bce"  # "bce" (mean per-pixel), "mse", or "elbo" (the VAE trains itself).
    # Training settings of the shipped model, overriding core.ml.training.TrainConfig's defaults.
    training: dict[str, Any] = field(default_factory=dict)
    # Config fields that differ from the dataclass's defaults (twins switch a penalty off).
    config_overrides: dict[str, Any] = field(default_factory=dict)
    denoising: bool = False  # Trained on corrupted inputs with clean targets.
    shipped: bool = True  # Listed in the app; False for comparison twins used by evaluate.
    # What a student may change on the Train page, in a lock or a race (core.ml.variants.options).
    settings: tuple = ()
    # The Train page's starting values for a short live run, over core.ml.choices.LIVE_DEFAULTS.
    live: dict[str, Any] = field(default_factory=dict)
    # Shown under the Train page's settings when a lesson needs more than a short default run
    # (more epochs, a longer wait), with the measured figures that say why.
    live_note: str = ""
    # Test metrics beyond BCE, MSE and PSNR that core.ml.evaluate.MEASURES computes for it.
    measures: tuple[str, ...] = ()
    # The loss chart's panels: (title, (training key, validation key)) each.
    curves: tuple = (("Loss", ("loss", "val_loss")),)
    # Its decoder turns N(0, I) samples into images: the Latent page's sliders decode it.
    generative: bool = False
    # Per dataset, changes to `training` for the shipped model (other data, other recipe);
    # a "config" entry changes the model's config too.
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)

    # The model in plain Keras for core.ml.codegen's standalone file: defines
    # `build_model() -> (model, loss)` from the file's CONFIG dict.
    code: str = ""

    def recipe(self, dataset: str = "mnist") -> dict[str, Any]:
        """The shipped model's training settings on `dataset`."""
        changes = {k: v for k, v in self.recipes.get(dataset, {}).items() if k != "config"}
        return {**self.training, **changes, "dataset": dataset}

    def recipe_config(self, dataset: str = "mnist") -> dict[str, Any]:
        """Config fields the shipped model of `dataset` changes from the variant's own."""
        return dict(self.recipes.get(dataset, {}).get("config", {}))


def dense_stack(
    inputs, sizes: Sequence[int], activation: str = "relu", prefix: str = "dense"
) -> keras.KerasTensor:
    """A chain of Dense layers named `{prefix}_1`, `{prefix}_2`, ..."""
    x = inputs
    for index, units in enumerate(sizes, start=1):
        x = layers.Dense(units, activation=activation, name=f"{prefix}_{index}")(x)
    return x


def dense_encoder(
    hidden: Sequence[int],
    code_size: int,
    code_activation: str | None = "relu",
    code_layer: Callable | None = None,
    name: str = "encoder",
) -> keras.Model:
    """Flatten, hidden Dense layers, then the code: a Dense, or `code_layer(x)` when given."""
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    x = dense_stack(x, hidden, prefix="encoder_dense")
    if code_layer is None:
        code_layer = layers.Dense(code_size, activation=code_activation, name="code")
    return keras.Model(inputs, code_layer(x), name=name)


def dense_decoder(
    hidden: Sequence[int],
    code_size: int,
    output_activation: str | None = "sigmoid",
    name: str = "decoder",
) -> keras.Model:
    """Hidden Dense layers from the code, then 784 outputs reshaped to a 28x28x1 image."""
    code = keras.Input(shape=(code_size,), name="code")
    x = dense_stack(code, hidden, prefix="decoder_dense")
    x = layers.Dense(PIXELS, activation=output_activation, name="pixels")(x)
    return keras.Model(code, layers.Reshape(IMAGE_SHAPE, name="image")(x), name=name)


def dense_autoencoder(
    hidden: Sequence[int],
    code_size: int,
    name: str,
    code_activation: str | None = "relu",
    code_layer: Callable | None = None,
) -> Autoencoder:
    """A symmetric dense autoencoder: `hidden` on the way down, reversed on the way up."""
    encoder = dense_encoder(hidden, code_size, code_activation, code_layer)
    decoder = dense_decoder(list(reversed(hidden)), code_size)
    return Autoencoder(encoder, decoder, name=name)
