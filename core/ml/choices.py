"""The settings a student can choose for a run, per variant, with the values on offer.

One catalogue serves the Train page's widgets, a teacher's locks, a challenge's constraints
and a race's racers, so a lock or a constraint can only name a setting and a value the page
offers. The training settings are here; each variant declares its own model settings in its
module (`core.ml.variants.options.Setting`). A run's choices
travel as a flat dict of plain values (`{"epochs": 5, "code_size": 8, "noise_kind": ...}`);
`configs` turns them into the training and model configs, and `values_of` reads them back
from a stored run's settings.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from core import i18n
from core.i18n import N_
from core.ml import variants
from core.ml.data import ALL_IMAGES
from core.ml.variants.options import (  # noqa: F401 (the catalogue's)
    CODE_SIZES,
    Setting,
    grid,
    noise_kind_names,
)

# 50 epochs is the Train page's own ceiling; below 100 images the Train page has nothing to show
# (and its slider needs two choices).
MOST_EPOCHS = 50
FEWEST_IMAGES = 100
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 5e-3, 1e-2, 3e-2, 1e-1, 1.0, 10.0)
SUBSETS = (100, 1000, 2000, 5000, 10000, 20000, ALL_IMAGES)
# Starting values for a short live run, which a variant's `live` may change. The shipped
# recipes use gentler rates over 50-100 epochs, but in a classroom the digits should be
# recognisable within seconds. Measured for vanilla on 10,000 images, batch 64: test BCE 0.134
# after 3 epochs at 1e-2 (2 s) against 0.199 at 2e-3 with batch 128.
LIVE_DEFAULTS = {"epochs": 5, "batch_size": 64, "learning_rate": 1e-2, "subset": 10000}
# The Race page's default race, chosen on the validation split (python -m bench.lesson_defaults,
# bench/DEFAULTS.md) so that it makes the lessons' points: any nonlinear model beats the linear
# one (PCA's limit) within a few epochs, while the deep one, four times vanilla's weights,
# trails vanilla this early and only overtakes it with long training (the shipped models after
# 100 epochs: test MSE 0.0050 deep, 0.0093 vanilla). 5 epochs ranked linear first and deep last.
# The measured validation MSE per pixel (seed 0) travels with it; the Race page shows it and
# tests/unit/test_lesson_defaults.py trains the race again and holds the order.
DEFAULT_RACE = {"racers": ("vanilla", "deep", "linear"), "epochs": 10, "subset": 10000}
DEFAULT_RACE_MSE = {"vanilla": 0.0128, "deep": 0.0150, "linear": 0.0174}
# Held-out images in a live run's validation pass: 5,000 cost a third of a short conv run's
# time (bench/engine.py), 1,000 a fifth of that. The chart's caption says which were used.
LIVE_VALIDATION_IMAGES = 1000

TRAINING = (
    Setting("epochs", N_("Epochs"), tuple(range(1, MOST_EPOCHS + 1))),
    Setting("batch_size", N_("Batch size"), (16, 32, 64, 128, 256, 512)),
    Setting(
        "learning_rate",
        N_("Learning rate"),
        LEARNING_RATES,
        N_(
            "Adam's peak rate; it decays along a cosine to 1% by the last step. Try 10 to see "
            "what a rate far too high does."
        ),
    ),
    Setting(
        "subset",
        N_("Training images"),
        SUBSETS,
        N_(
            "A random subset of the 55,000 training images (5,000 more are held out for the "
            "validation curve)."
        ),
    ),
)
TRAINING_NAMES = tuple(item.name for item in TRAINING)


def model_settings(variant: str) -> tuple[Setting, ...]:
    """The model settings `variant` declares (its module's `settings`)."""
    return tuple(variants.get(variant).settings)


def for_variant(variant: str) -> tuple[Setting, ...]:
    """The settings a student chooses for `variant`, training ones first."""
    return TRAINING + model_settings(variant)


def setting(variant: str, name: str) -> Setting:
    found = {item.name: item for item in for_variant(variant)}
    if name not in found:
        raise KeyError(f"{variants.get(variant).title} has no setting {name!r}")
    return found[name]


def defaults(variant: str, dataset: str = "mnist") -> dict:
    """The values the Train page starts from on `dataset`: quick live runs, the variant's own
    model."""
    declared = variants.get(variant)
    config = asdict(variants.make_config(variant))
    values = {**LIVE_DEFAULTS, **declared.live, **declared.live_on.get(dataset, {})}
    for item in declared.settings:
        values[item.name] = item.read(config)
    return values


def scaled_to(values: dict, images: int, most_epochs: int = MOST_EPOCHS) -> dict:
    """`values` for a dataset of `images` training images (an upload of a few hundred): as
    many epochs as give the weight updates the same values make on their own number of
    images, within `most_epochs`. A default run on 10,000 images takes ~780 steps; on 300
    images its 5 epochs would take 25, and its reconstructions would still be noise."""
    per_epoch = math.ceil(min(values["subset"], images) / values["batch_size"])
    wanted = values["epochs"] * math.ceil(values["subset"] / values["batch_size"])
    epochs = max(values["epochs"], min(most_epochs, math.ceil(wanted / max(1, per_epoch))))
    return {**values, "epochs": epochs}


def calmer_rate(rate: float | None) -> float | None:
    """The next learning rate the Train page offers below `rate` (what to try after a run
    diverged), or None below the smallest."""
    if rate is None:
        return None
    below = [value for value in LEARNING_RATES if value < rate * (1 - 1e-9)]
    return below[-1] if below else None


def live_note(variant: str) -> str:
    """What the variant's live defaults were measured to give, when a lesson needs more than
    the common defaults (the Train page shows it under the settings); "" when nothing to say.
    In English, marked N_() where the variant declares it: the page translates it with _()."""
    return variants.get(variant).live_note


def configs(variant: str, values: dict, dataset: str = "mnist"):
    """(TrainConfig, variant config) of a run with these choices (missing ones: defaults)."""
    from core.ml.train_config import TrainConfig

    chosen = {**defaults(variant, dataset), **values}
    train = TrainConfig(
        epochs=int(chosen["epochs"]),
        batch_size=int(chosen["batch_size"]),
        learning_rate=float(chosen["learning_rate"]),
        subset=int(chosen["subset"]),
        seed=int(chosen.get("seed", 0)),
        validation_images=LIVE_VALIDATION_IMAGES,
        dataset=dataset,
        odd=sorted({int(label) for label in chosen.get("odd") or ()}),
    )
    model = {}
    for item in model_settings(variant):
        model.update(item.config_fields(chosen[item.name]))
    return train, variants.make_config(variant, **model)


def values_of(run_settings: dict, variant: str | None = None) -> dict:
    """The catalogue's values of a stored run (`settings_for`); with `variant`, its
    declared settings, else every setting any variant declares that the run's config has."""
    train, model = run_settings.get("train", {}), run_settings.get("model", {})
    values = {key: train[key] for key in ("epochs", "batch_size", "learning_rate") if key in train}
    values["subset"] = train.get("subset") or ALL_IMAGES
    if train.get("odd"):  # An odd-one-out run: the labels it never saw.
        values["odd"] = list(train["odd"])
    names = [variant] if variant else variants.names()
    for item in {item.name: item for name in names for item in model_settings(name)}.values():
        value = item.read(model)
        if value is not None:
            values[item.name] = value
    return values


# The short items of `describe`, marked here and translated when a page asks for them.
SHORT = {
    # Translators: compact items of a run's settings in a table cell, joined with " · ":
    # "5 ep · batch 64 · lr 0.01 · 10,000 img · code size 32". "ep" is epochs, "lr" the
    # learning rate, "img" training images.
    "epochs": N_("{value} ep"),
    "batch_size": N_("batch {value}"),
    "learning_rate": N_("lr {value:g}"),
    "subset": N_("{value:,} img"),
    "code_size": N_("code size {value:g}"),
    "beta": N_("beta {value:g}"),
    "rho": N_("rho {value:g}"),
    "l1": N_("l1 {value:g}"),
    "contraction": N_("contraction {value:g}"),
    "noise_level": N_("noise level {value:g}"),
    # Translators: an odd-one-out run's training images: every label but these ("all but 1").
    "odd": N_("all but {value}"),
}


def describe(values: dict, translated: bool = False) -> str:
    """Short text of the choices, as the runs table shows them. In English by default (the
    generated code's docstring says it, core.ml.codegen); `translated`: in the reader's
    language, for a page."""

    def item(key: str, value) -> str:
        return (i18n._(SHORT[key]) if translated else SHORT[key]).format(value=value)

    parts = [
        item("epochs", values.get("epochs", "?")),
        item("batch_size", values.get("batch_size", "?")),
        item("learning_rate", values.get("learning_rate", 0)),
        item("subset", values.get("subset", ALL_IMAGES)),
    ]
    for key in ("code_size", "beta", "rho", "l1", "contraction", "noise_level"):
        if key in values:
            parts.append(item(key, values[key]))
    if values.get("odd"):
        parts.append(item("odd", ", ".join(str(label) for label in values["odd"])))
    if "noise_kind" in values:
        kind = values["noise_kind"]
        shown = noise_kind_names().get(kind) if translated else None
        parts.append(shown or kind.replace("_", " "))
    return " · ".join(parts)


def settings_for(train_config, model_config) -> dict:
    """What a run row stores to rebuild its model and repeat its training."""
    return {"train": asdict(train_config), "model": asdict(model_config)}


def model_config(variant: str, settings: dict):
    """The variant config a run was started with."""
    return variants.make_config(variant, **settings["model"])


def build_model(variant: str, settings: dict):
    """A fresh model of the run's architecture (weights come from its checkpoint)."""
    return variants.get(variant).build(model_config(variant, settings))
