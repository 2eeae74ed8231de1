"""The settings a student may change, declared once by the variant that has them.

A `Setting` is what the Train page renders as a widget, what a teacher can lock and what a race
can vary: a name, a label, every value on offer and a help text, plus how a chosen value goes
into the variant's config (`to_config`) and how it is read back from a stored run's config
(`from_config`). This module imports no Keras, so catalogues and checks stay cheap.

A setting's `label` and `help` are marked `N_()` where declared and translated with `_()` where
a page shows them; `show` gives a value as the reader reads it (a noise kind in their language).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.i18n import N_, _
from core.ml import noise
from core.ml.data import ALL_IMAGES


def _same_name(name: str) -> Callable[[Any], dict]:
    return lambda value: {name: value}


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    choices: tuple  # Every value on offer, in order.
    help: str | None = None
    # value -> the config fields it sets (default: the field of the same name).
    to_config: Callable[[Any], dict] | None = None
    # a stored config dict -> the value (default: the field of the same name, if present).
    from_config: Callable[[dict], Any] | None = None

    @property
    def numeric(self) -> bool:
        return all(isinstance(choice, (int, float)) for choice in self.choices)

    def show(self, value) -> str:
        """A value as the page shows it: a number as written, a noise kind in the reader's
        language ("salt and pepper" in English)."""
        if isinstance(value, str):
            return noise_kind_names().get(value) or value.replace("_", " ")
        return f"{value:,}" if self.name == "subset" else f"{value:g}"

    def config_fields(self, value) -> dict:
        return (self.to_config or _same_name(self.name))(value)

    def read(self, config: dict):
        """This setting's value in a stored model config, or None when it has none."""
        if self.from_config is not None:
            try:
                return self.from_config(config)
            except (KeyError, IndexError, TypeError):
                return None
        return config.get(self.name)


def noise_kind_names() -> dict[str, str]:
    """Each of core.ml.noise.KINDS as the reader reads it (translated when called, so call it
    where the names are shown, never at import)."""
    return {
        # Translators: a kind of noise, in a list of options (lower case in English).
        "gaussian": _("gaussian"),
        "salt_and_pepper": _("salt and pepper"),
        "masking": _("masking"),
    }


def grid(low: float, high: float, step: float) -> tuple:
    count = round((high - low) / step)
    return tuple(round(low + index * step, 10) for index in range(count + 1))


CODE_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
CODE_SIZE = Setting(
    "code_size",
    N_("Code size"),
    CODE_SIZES,
    N_(
        "Numbers in the bottleneck, the code. With 2 the Latent space page can replay how the "
        "code forms."
    ),
)
NOISE_KIND = Setting(
    "noise_kind",
    N_("Noise kind"),
    noise.KINDS,
    to_config=lambda value: {"noise_kinds": [value]},
    from_config=lambda config: config["noise_kinds"][0],
)
NOISE_LEVEL = Setting(
    "noise_level",
    N_("Noise level"),
    grid(0.0, 1.0, 0.05),
    # One fixed level: the upper and lower ends of the level drawn per batch agree.
    to_config=lambda value: {"noise_level": float(value), "min_noise_level": float(value)},
)
SUBSET_NOTE = ALL_IMAGES  # Re-exported for catalogues that show "all" images.
