"""The registry of autoencoder variants: name -> module with a config dataclass and a builder.

Modules are imported on first use, so listing names costs nothing. A variant's module declares
its config, `VARIANT` and `CODE` without Keras, which its `build` imports (from `blocks` and the
`*_model` modules): the web tier reads every variant's metadata, and makes its configs, with no
Keras or TensorFlow loaded. Adding a variant means one module and one line in `_MODULES`.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "vanilla": "core.ml.variants.vanilla",
    "deep": "core.ml.variants.deep",
    "conv": "core.ml.variants.conv",
    "denoising": "core.ml.variants.denoising",
    "sparse_l1": "core.ml.variants.sparse_l1",
    "sparse_kl": "core.ml.variants.sparse_kl",
    "contractive": "core.ml.variants.contractive",
    "vae": "core.ml.variants.vae",
    "linear": "core.ml.variants.linear",
    "tied": "core.ml.variants.tied",
    "vqvae": "core.ml.variants.vqvae",
    "cvae": "core.ml.variants.cvae",
}
# Comparison models, trained and shipped but not offered in the sidebar: unpenalised twins
# (so evaluate can show what a penalty changes) and an overcomplete network.
_TWINS = {
    "sparse_l1_twin": ("core.ml.variants.sparse_l1", "TWIN"),
    "contractive_twin": ("core.ml.variants.contractive", "TWIN"),
    # Not a twin but shown beside the others on the Inside page: an overcomplete code.
    "overcomplete": ("core.ml.variants.vanilla", "OVERCOMPLETE"),
}


def names() -> list[str]:
    """The variants a user can pick, in teaching order."""
    return list(_MODULES)


def all_names() -> list[str]:
    """Every trainable model, the comparison twins included."""
    return [*_MODULES, *_TWINS]


def get(name: str):
    """The `Variant` registered under `name`."""
    if name in _MODULES:
        return importlib.import_module(_MODULES[name]).VARIANT
    if name in _TWINS:
        module, attribute = _TWINS[name]
        return getattr(importlib.import_module(module), attribute)
    raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(all_names())}")


def make_config(name: str, **overrides: Any):
    """The variant's config: dataclass defaults, then the variant's own, then `overrides`."""
    variant = get(name)
    return variant.config_class(**{**variant.config_overrides, **overrides})


def register_custom_objects() -> None:
    """Import the modules that define serializable layers and models, registering them with
    Keras under their `PACKAGE` names (the names the files in trained/ refer to)."""
    import pkgutil

    # A variant's own layers live in its `<name>_model` module: found here, so a new variant
    # needs no line but its registry entry.
    found = [info.name for info in pkgutil.iter_modules(__path__) if info.name.endswith("_model")]
    for module in ("blocks", "penalties", *found):
        importlib.import_module(f"core.ml.variants.{module}")


def build(name: str, config=None):
    """Build the named variant's model (uncompiled) from `config` or its defaults."""
    return get(name).build(config if config is not None else make_config(name))
