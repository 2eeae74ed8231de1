"""What the registry knows about a variant, and the image shape every variant shares.

Every model of the lab takes float32 images in [0, 1] shaped (N, 28, 28, 1) and returns
reconstructions of the same shape. This module imports no Keras: the web tier reads a variant's
metadata (titles, settings, recipes, code) without it, so the Keras building blocks (the
serializable `Autoencoder` and the dense stacks) live in core.ml.variants.blocks.

The texts a page shows (`title`, `summary`, `idea`, `source`, `live_note`, the `curves`
panels' titles) are marked `N_()` where each variant declares them and translated with `_()`
where they are shown (core.i18n).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.i18n import N_

if TYPE_CHECKING:
    import keras

# The package of every class the lab registers with Keras: saved files name their classes
# "autoencoder_lab>Autoencoder" and so on, so it must never change.
PACKAGE = "autoencoder_lab"
IMAGE_SHAPE = (28, 28, 1)
PIXELS = 28 * 28


@dataclass(frozen=True)
class Variant:
    """What the registry knows about one variant: how to build it and how to teach it."""

    name: str  # Its id: in URLs, run rows, cards' folders; never translated.
    title: str
    summary: str  # One paragraph for the app: the constraint that makes it learn, and its loss.
    config_class: type
    build: Callable[[Any], keras.Model]
    # Two sentences in plain words for a first-time learner (Home's cards): what it does and
    # why, with no formula; `summary` is one click away for the maths.
    idea: str = ""
    # Which chapters of the source texts (docs/GLOSSARY.md, "Which chapter teaches what")
    # teach what `summary` explains: one caption under it, "" when none does.
    source: str = ""
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
    # Per dataset, changes to `live` (another dataset can need a calmer start).
    live_on: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Shown under the Train page's settings when a lesson needs more than a short default run
    # (more epochs, a longer wait), with the measured figures that say why.
    live_note: str = ""
    # Test metrics beyond BCE, MSE and PSNR that core.ml.evaluate.MEASURES computes for it.
    measures: tuple[str, ...] = ()
    # The loss chart's panels: (title, (training key, validation key)) each; the titles are
    # marked N_() and translated where the chart is drawn.
    curves: tuple = ((N_("Loss"), ("loss", "val_loss")),)
    # Its decoder turns N(0, I) samples into images: the Latent page's sliders decode it.
    generative: bool = False
    # A conditional model: it trains on (images, labels) batches, and its code ends with the
    # class, one-hot (`classes` numbers), which a page may set to draw the class it wants.
    classes: int = 0
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
