"""Vanilla: one hidden layer of 32 units between 784 pixels in and 784 out.

The bottleneck alone makes it learn: 32 numbers cannot hold 784 pixels, so the network must
keep what digits share and drop the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.variants.base import Autoencoder, Variant, dense_autoencoder


@dataclass
class VanillaConfig:
    code_size: int = 32  # About 25x fewer numbers than pixels, as in the Keras blog.


def build(config: VanillaConfig | None = None) -> Autoencoder:
    """784 -> code (relu) -> 784 (sigmoid)."""
    config = config or VanillaConfig()
    return dense_autoencoder([], config.code_size, name="vanilla")


VARIANT = Variant(
    name="vanilla",
    title="Vanilla",
    summary=(
        "A single hidden layer of 32 units sits between 784 input pixels and 784 output "
        "pixels. The bottleneck is the only constraint: 32 numbers cannot store a digit pixel "
        "by pixel, so the network learns what digits have in common. Loss: binary "
        "cross-entropy between each input pixel and its reconstruction."
    ),
    config_class=VanillaConfig,
    build=build,
    training={"epochs": 100},
)

# The same network with more code units than pixels and no other constraint: nothing forces
# it to learn what digits share, so it can get away with copying its input. Shipped only for
# the Inside page, beside the undercomplete, sparse and denoising models.
OVERCOMPLETE = Variant(
    name="overcomplete",
    title="Overcomplete, unconstrained",
    summary=(
        "The vanilla network with 1,024 code units for 784 pixels and no penalty: a code "
        "larger than the input, with nothing to stop it from learning to copy."
    ),
    config_class=VanillaConfig,
    build=build,
    config_overrides={"code_size": 1024},
    training={"epochs": 30},
    shipped=False,
)
