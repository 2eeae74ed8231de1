"""Conditional VAE: the VAE's 2-D code becomes a style, and the class is given beside it, so
the decoder draws the digit (or garment) you ask for in the style you choose (Sohn et al.,
2015; Kingma et al., 2014). The Keras model is in core.ml.variants.cvae_model.

Its code is the style z (2 numbers) then the class one-hot (10): the Latent page sets the
class and drags the style; Draw encodes a drawing's style and decodes it as another class.
Pages with only an image let the encoder's classifier head name the class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.i18n import N_
from core.ml.variants import vae
from core.ml.variants.base import IMAGE_SHAPE, PIXELS, Variant

if TYPE_CHECKING:
    from core.ml.variants.cvae_model import CVAE


@dataclass
class CVAEConfig:
    latent_dim: int = 2  # The style: two numbers, two sliders.
    hidden: list[int] = field(default_factory=lambda: [512, 256])  # As the VAE's.
    classes: int = 10
    beta: float = 1.0  # Weight of the KL term; 1 is the true conditional ELBO.
    classifier_hidden: int = 256  # The head that names an image's class when none is given.


def build(config: CVAEConfig | None = None) -> CVAE:
    """Style encoder [784 pixels, 10 class] -512-256-(2+2); classifier head 784-256-10;
    Bernoulli decoder [2 style, 10 class] -256-512-784."""
    import keras
    from keras import layers

    from core.ml.variants.blocks import dense_stack
    from core.ml.variants.cvae_model import CVAE, OneHotOfBest

    config = config or CVAEConfig()
    image = keras.Input(shape=IMAGE_SHAPE, name="image")
    label = keras.Input(shape=(config.classes,), name="label")
    pixels = layers.Flatten(name="flatten")(image)
    x = dense_stack(
        layers.Concatenate(name="pixels_and_label")([pixels, label]),
        config.hidden,
        prefix="encoder_dense",
    )
    z_mean = layers.Dense(config.latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(config.latent_dim, name="z_log_var")(x)
    style_encoder = keras.Model([image, label], [z_mean, z_log_var], name="style_encoder")

    x = layers.Dense(config.classifier_hidden, activation="relu", name="classifier_dense")(
        layers.Flatten(name="classifier_flatten")(image)
    )
    probabilities = layers.Dense(config.classes, activation="softmax", name="class")(x)
    classifier = keras.Model(image, probabilities, name="classifier")

    named = OneHotOfBest(config.classes, name="named_class")(classifier(image))
    mean, log_var = style_encoder([image, named])
    code = layers.Concatenate(name="code")([mean, named])
    encoder = keras.Model(image, [code, log_var], name="encoder")

    code_input = keras.Input(shape=(config.latent_dim + config.classes,), name="code")
    x = dense_stack(code_input, list(reversed(config.hidden)), prefix="decoder_dense")
    x = layers.Dense(PIXELS, activation="sigmoid", name="pixels")(x)
    decoder = keras.Model(code_input, layers.Reshape(IMAGE_SHAPE, name="image")(x), name="decoder")
    return CVAE(encoder, decoder, beta=config.beta, name="cvae")


# The same model in plain Keras, for the standalone file of core.ml.codegen (which trains it
# with model.fit(x_train, y_train): a conditional model's batches are images and labels). Its
# loss is `compute_loss`, which any Keras backend differentiates.
CODE = '''
class CVAE(keras.Model):
    """Style encoder q(z | x, y), decoder p(x | z, y) and a classifier head q(y | x) for
    images that come without a label; fit(images, labels) trains it."""

    def __init__(self, style_encoder, classifier, decoder, beta, **kwargs):
        super().__init__(**kwargs)
        self.style_encoder, self.classifier, self.decoder = style_encoder, classifier, decoder
        self.beta = beta
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, images, labels=None):
        """Reconstructions from the mean style, of the class given or else the one named."""
        if labels is None:
            labels = ops.argmax(self.classifier(images), axis=-1)
        one_hot = ops.one_hot(ops.cast(labels, "int32"), CONFIG["classes"])
        z_mean, _ = self.style_encoder([images, one_hot])
        return self.decoder(ops.concatenate([z_mean, one_hot], axis=-1))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Negative conditional ELBO (nats per image) of the images x given their labels y,
        plus the classifier head's cross-entropy; Keras takes its gradient."""
        one_hot = ops.one_hot(ops.cast(y, "int32"), CONFIG["classes"])
        z_mean, z_log_var = self.style_encoder([x, one_hot])
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * epsilon
        drawn = self.decoder(ops.concatenate([z, one_hot], axis=-1))
        kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
        elbo = ops.mean(summed_bce(x, drawn) + self.beta * kl)
        guessed = keras.losses.categorical_crossentropy(one_hot, self.classifier(x))
        return elbo + ops.mean(guessed)


def summed_bce(images, probabilities):
    """Reconstruction term of the negative ELBO: pixel cross-entropy summed per image, in nats."""
    pixels = ops.reshape(images, (-1, 28 * 28, 1))
    predicted = ops.reshape(probabilities, (-1, 28 * 28, 1))
    return ops.sum(keras.losses.binary_crossentropy(pixels, predicted), axis=1)


def build_model():
    """Dense style encoder [784 + 10] -> hidden -> 2 x latent; classifier 784 -> 256 -> 10;
    Bernoulli decoder [latent + 10] -> hidden reversed -> 784. Its loss is its own."""
    image = keras.Input(shape=(28, 28, 1), name="image")
    label = keras.Input(shape=(CONFIG["classes"],), name="label")
    x = layers.Concatenate()([layers.Flatten()(image), label])
    x = dense_stack(x, CONFIG["hidden"], prefix="encoder_dense")
    z_mean = layers.Dense(CONFIG["latent_dim"], name="z_mean")(x)
    z_log_var = layers.Dense(CONFIG["latent_dim"], name="z_log_var")(x)
    style_encoder = keras.Model([image, label], [z_mean, z_log_var], name="style_encoder")
    x = layers.Dense(CONFIG["classifier_hidden"], activation="relu")(layers.Flatten()(image))
    classifier = keras.Model(image, layers.Dense(CONFIG["classes"], activation="softmax")(x))
    code = keras.Input(shape=(CONFIG["latent_dim"] + CONFIG["classes"],), name="code")
    x = dense_stack(code, list(reversed(CONFIG["hidden"])), prefix="decoder_dense")
    x = layers.Dense(28 * 28, activation="sigmoid", name="pixels")(x)
    decoder = keras.Model(code, layers.Reshape((28, 28, 1))(x), name="decoder")
    return CVAE(style_encoder, classifier, decoder, CONFIG["beta"], name="cvae"), None
'''


VARIANT = Variant(
    name="cvae",
    title=N_("Conditional VAE"),
    summary=N_(
        "A VAE told the class: the encoder sees the image and its label and sums up the rest, "
        "the style, in 2 numbers; the decoder draws from the style and the label together. "
        "Since the label carries the class, the 2-D code is free to hold slant, thickness and "
        "width, and any class can be drawn in any style. A small classifier head names the "
        "class of an image that comes without one. Loss (negative conditional ELBO, nats per "
        "image): summed pixel cross-entropy + beta * KL, plus the head's cross-entropy."
    ),
    idea=N_(
        "Is told which class each image is, so its 2 numbers only need to describe how it is "
        "drawn. Choose a class and a style, and it draws that class in that style."
    ),
    config_class=CVAEConfig,
    build=build,
    loss="elbo",
    training={"epochs": 60, "keep_best": True},
    settings=vae.VARIANT.settings,  # Its KL weight, as the VAE's.
    # The VAE's live start, measured for this model too (MNIST, 2026-12-04, 18 s here): 10
    # epochs of 10,000 images at 5e-3 reach a validation -ELBO of 133.0 nats given the label,
    # the head names 97.2% of the validation digits, and a small classifier recognises 98.7%
    # of the digits it draws on request (100 prior styles per class; its 1s 87%).
    live={"learning_rate": 5e-3, "epochs": 10},
    live_on={"fashion": {"learning_rate": 2e-3}},
    measures=("conditional",),
    curves=vae.VARIANT.curves,  # Its two terms, as the VAE's.
    classes=10,
    recipes={"fashion": {"epochs": 30}},
    code=CODE,
)
