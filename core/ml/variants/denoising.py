"""Denoising: a convolutional autoencoder that sees corrupted digits and must return clean ones.

Corruption makes copying useless even with a large code: to undo noise the network has to know
what digits look like. The corruptions come from core.ml.noise, the same functions the app uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.i18n import N_
from core.ml.variants.base import Variant
from core.ml.variants.conv import HEAVY_LIVE, conv_autoencoder
from core.ml.variants.options import NOISE_KIND, NOISE_LEVEL

if TYPE_CHECKING:
    from core.ml.variants.blocks import Autoencoder


@dataclass
class DenoisingConfig:
    # Two levels of 32 filters give a 7x7x32 code: denoising needs more room than plain
    # reconstruction because the network must also model what noise is not (Keras blog).
    filters: list[int] = field(default_factory=lambda: [32, 32])
    kernel_size: int = 3
    # Gaussian noise at level 0.5, as in the Keras examples and the quality bar. A mixture
    # (2/3 Gaussian, salt-and-pepper and masking, levels 0.4-0.6) reached BCE 0.0966 at
    # Gaussian 0.5 against 0.095 wanted; the app shows how this model copes with the kinds it
    # never saw, which is itself worth seeing.
    noise_kinds: list[str] = field(default_factory=lambda: ["gaussian"])
    noise_level: float = 0.5  # Upper end of the level drawn per batch.
    min_noise_level: float = 0.5  # Lower end; equal to the upper end: one fixed level.


def build(config: DenoisingConfig | None = None) -> Autoencoder:
    """A 32-32 convolutional autoencoder (7x7x32 code)."""
    config = config or DenoisingConfig()
    return conv_autoencoder(config.filters, config.kernel_size, name="denoising")


# The same model in plain Keras, for the standalone file of core.ml.codegen.
CODE = '''
def corrupt(images, rng):
    """The training corruption: CONFIG["noise_kinds"][0] at CONFIG["noise_level"]."""
    kind, level = CONFIG["noise_kinds"][0], CONFIG["noise_level"]
    if kind == "gaussian":  # Add level * N(0, 1) to every pixel.
        return np.clip(images + level * rng.standard_normal(images.shape, "float32"), 0, 1)
    result = images.copy()
    hit = rng.random(images.shape) < level
    if kind == "salt_and_pepper":  # A `level` fraction of pixels set to 0 or 1.
        result[hit] = (rng.random(int(hit.sum())) < 0.5).astype("float32")
    else:  # masking: a `level` fraction of pixels set to 0.
        result[hit] = 0.0
    return result


def build_model():
    """A convolutional autoencoder that sees corrupted images and must return clean ones."""
    encoder, decoder = conv_autoencoder(CONFIG["filters"], CONFIG["kernel_size"])
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    model = keras.Model(inputs, decoder(encoder(inputs)), name="denoising")
    return model, keras.losses.BinaryCrossentropy()
'''


VARIANT = Variant(
    name="denoising",
    title=N_("Denoising"),
    summary=N_(
        "During training each image is corrupted with Gaussian noise and the network must "
        "output the clean original. Copying the input would copy "
        "the noise, so it has to learn what a clean image looks like. Loss: per-pixel binary "
        "cross-entropy between the output and the CLEAN image."
    ),
    idea=N_(
        "Trained on images with random noise sprinkled on them and asked to give back the "
        "clean image. It cannot just copy, so it learns what a clean image looks like."
    ),
    source=N_(
        "Source texts: chapter 10 “使用自编码器重构输入” (Reconstructing inputs using "
        "autoencoders), section “探索降噪自编码器” (Exploring denoising autoencoders); chapter "
        "15 “自编码器” (Autoencoders), section “降噪自编码(DAE)” (Denoising autoencoders)"
    ),
    config_class=DenoisingConfig,
    build=build,
    training={"epochs": 40},
    denoising=True,
    settings=(NOISE_KIND, NOISE_LEVEL),
    live=HEAVY_LIVE,
    # Fashion-MNIST: 10 epochs (~37 s each here); it has no bar there, only its measured figures.
    recipes={"fashion": {"epochs": 10}},
    measures=("denoising",),
    code=CODE,
)
