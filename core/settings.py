"""The settings a student can choose for a run, per variant, with the values on offer.

One catalogue serves the Train page's widgets, a teacher's locks and a challenge's constraints,
so a lock or a constraint can only name a setting and a value the page offers. A run's choices
travel as a flat dict of plain values (`{"epochs": 5, "code_size": 8, "noise_kind": ...}`);
`configs` turns them into the training and model configs, and `values_of` reads them back
from a stored run's settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import noise, variants
from core.limits import ALL_IMAGES, MOST_EPOCHS

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 5e-3, 1e-2, 3e-2, 1e-1, 1.0, 10.0)
SUBSETS = (100, 1000, 2000, 5000, 10000, 20000, ALL_IMAGES)
CODE_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
# Starting rates for a short live run: the shipped recipes use gentler rates over 50-100
# epochs, but in a classroom the digits should be recognisable within seconds. Measured for
# vanilla on 10,000 images, batch 64: test BCE 0.134 after 3 epochs at 1e-2 (2 s) against
# 0.199 at 2e-3 with batch 128.
LIVE_LEARNING_RATE = {"vae": 2e-3, "conv": 5e-3, "denoising": 5e-3}
HEAVY = ("conv", "denoising")  # Convolutions cost ~10x more per image here.
# Held-out images in a live run's validation pass: 5,000 cost a third of a short conv run's
# time (bench/engine.py), 1,000 a fifth of that. The chart's caption says which were used.
LIVE_VALIDATION_IMAGES = 1000


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    choices: tuple  # Every value on offer, in order.
    help: str | None = None

    @property
    def numeric(self) -> bool:
        return all(isinstance(choice, (int, float)) for choice in self.choices)

    def show(self, value) -> str:
        if isinstance(value, str):
            return value.replace("_", " ")
        return f"{value:,}" if self.name == "subset" else f"{value:g}"


def _grid(low: float, high: float, step: float) -> tuple:
    count = round((high - low) / step)
    return tuple(round(low + index * step, 10) for index in range(count + 1))


TRAINING = (
    Setting("epochs", "Epochs", tuple(range(1, MOST_EPOCHS + 1))),
    Setting("batch_size", "Batch size", (16, 32, 64, 128, 256, 512)),
    Setting(
        "learning_rate",
        "Learning rate",
        LEARNING_RATES,
        "Adam's peak rate; it decays along a cosine to 1% by the last step. Try 10 to see "
        "what a rate far too high does.",
    ),
    Setting(
        "subset",
        "Training images",
        SUBSETS,
        "A random subset of the 55,000 training images (5,000 more are held out for the "
        "validation curve).",
    ),
)
CODE_SIZE = Setting("code_size", "Code size", CODE_SIZES, "Numbers in the bottleneck, the code.")
MODEL = {
    "denoising": (
        Setting("noise_kind", "Noise kind", noise.KINDS),
        Setting("noise_level", "Noise level", _grid(0.0, 1.0, 0.05)),
    ),
    "sparse_kl": (
        CODE_SIZE,
        Setting("rho", "Target activation ρ", _grid(0.01, 0.5, 0.01)),
        Setting("beta", "Sparsity weight β", (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)),
    ),
    "sparse_l1": (
        CODE_SIZE,
        Setting("l1", "L1 weight λ", (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)),
    ),
    "contractive": (
        CODE_SIZE,
        Setting(
            "contraction",
            "Contraction weight λ",
            (0.0, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2),
        ),
    ),
    "vae": (
        Setting(
            "beta",
            "KL weight β",
            (0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 10.0),
            "1 is the true ELBO; larger values give a beta-VAE.",
        ),
    ),
}
for _name in ("vanilla", "deep", "linear", "tied"):
    MODEL[_name] = (CODE_SIZE,)
MODEL.setdefault("conv", ())


def for_variant(variant: str) -> tuple[Setting, ...]:
    """The settings a student chooses for `variant`, training ones first."""
    return TRAINING + MODEL.get(variant, ())


def setting(variant: str, name: str) -> Setting:
    found = {item.name: item for item in for_variant(variant)}
    if name not in found:
        raise KeyError(f"{variants.get(variant).title} has no setting {name!r}")
    return found[name]


def defaults(variant: str) -> dict:
    """The values the Train page starts from: quick live runs, the variant's own model."""
    config = variants.make_config(variant)
    heavy = variant in HEAVY
    values = {
        "epochs": 3 if heavy else 5,
        "batch_size": 64,
        "learning_rate": LIVE_LEARNING_RATE.get(variant, 1e-2),
        "subset": 5000 if heavy else 10000,
    }
    for item in MODEL.get(variant, ()):
        if item.name == "noise_kind":
            values[item.name] = config.noise_kinds[0]
        else:
            values[item.name] = getattr(config, item.name)
    return values


def configs(variant: str, values: dict):
    """(TrainConfig, variant config) of a run with these choices (missing ones: defaults)."""
    from core.training import TrainConfig

    chosen = {**defaults(variant), **values}
    train = TrainConfig(
        epochs=int(chosen["epochs"]),
        batch_size=int(chosen["batch_size"]),
        learning_rate=float(chosen["learning_rate"]),
        subset=int(chosen["subset"]),
        seed=0,
        validation_images=LIVE_VALIDATION_IMAGES,
    )
    model = {}
    for item in MODEL.get(variant, ()):
        value = chosen[item.name]
        if item.name == "noise_kind":
            model["noise_kinds"] = [value]
        elif item.name == "noise_level":  # One fixed level: the upper and lower ends agree.
            model.update(noise_level=float(value), min_noise_level=float(value))
        else:
            model[item.name] = value
    return train, variants.make_config(variant, **model)


def values_of(run_settings: dict) -> dict:
    """The catalogue's values of a stored run (`core.runs.settings_for`)."""
    train, model = run_settings.get("train", {}), run_settings.get("model", {})
    values = {key: train[key] for key in ("epochs", "batch_size", "learning_rate") if key in train}
    values["subset"] = train.get("subset") or ALL_IMAGES
    for key in ("code_size", "noise_level", "rho", "beta", "l1", "contraction"):
        if key in model:
            values[key] = model[key]
    if model.get("noise_kinds"):
        values["noise_kind"] = model["noise_kinds"][0]
    return values


def describe(values: dict) -> str:
    """Short text of the choices, as the runs table shows them."""
    parts = [
        f"{values.get('epochs', '?')} ep",
        f"batch {values.get('batch_size', '?')}",
        f"lr {values.get('learning_rate', 0):g}",
        f"{values.get('subset', ALL_IMAGES):,} img",
    ]
    for key in ("code_size", "beta", "rho", "l1", "contraction", "noise_level"):
        if key in values:
            parts.append(f"{key.replace('_', ' ')} {values[key]:g}")
    if "noise_kind" in values:
        parts.append(values["noise_kind"].replace("_", " "))
    return " · ".join(parts)
