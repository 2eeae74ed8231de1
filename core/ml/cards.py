"""Shipped models and their JSON model cards in `trained/`.

A card records what the model is (variant and config), how it was trained (epochs, optimizer,
seed, time, machine) and what it measured on the test set (filled in by `core.ml.evaluate`). The
app reads cards and never guesses a number. Reading a card does not import Keras.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

TRAINED_DIR = Path(__file__).resolve().parents[2] / "trained"


def trained_dir() -> Path:
    """Where shipped models live: `$AE_TRAINED_DIR` (for tests and experiments) or trained/."""
    override = os.environ.get("AE_TRAINED_DIR")
    return Path(override) if override else TRAINED_DIR


def folder(directory: Path | None = None, dataset: str = "mnist") -> Path:
    """Where the models trained on `dataset` are: MNIST's at the top, others in a subfolder
    named after the dataset (`trained/fashion/`)."""
    base = directory or trained_dir()
    return base if dataset == "mnist" else base / dataset


def model_path(name: str, directory: Path | None = None, dataset: str = "mnist") -> Path:
    return folder(directory, dataset) / f"{name}.keras"


def card_path(name: str, directory: Path | None = None, dataset: str = "mnist") -> Path:
    return folder(directory, dataset) / f"{name}.json"


def load_card(
    name: str, directory: Path | None = None, dataset: str = "mnist"
) -> dict[str, Any] | None:
    """The model card of `name`, or None when no model of that name was shipped."""
    path = card_path(name, directory, dataset)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def write_card(
    name: str, card: dict[str, Any], directory: Path | None = None, dataset: str = "mnist"
) -> None:
    path = card_path(name, directory, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")


def machine() -> dict[str, Any]:
    """Where a model was trained, so its training time means something."""
    import keras
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def load_model(name: str, directory: Path | None = None, dataset: str = "mnist"):
    """Load a shipped model, its custom layers registered first. Only the files in trained/
    (shipped with the code) are ever loaded: a user's file never is."""
    import keras

    import core.ml.custom_objects  # noqa: F401 (registers the lab's layers with Keras)

    return keras.models.load_model(model_path(name, directory, dataset), compile=False)


def save_trained(name: str, result, directory: Path | None = None) -> dict[str, Any]:
    """Save a training result as `<name>.keras` (weights and architecture, no optimizer state)
    and write its card with everything but the test metrics, which evaluate measures."""
    from core.ml import variants

    # A fresh, uncompiled copy: the shipped file stays small and loads without an optimizer.
    clean = variants.get(name).build(result.config)
    clean.set_weights(result.model.get_weights())
    dataset = result.train_config.dataset
    path = model_path(name, directory, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean.save(path)
    variant = variants.get(name)
    card = {
        "variant": name,
        "dataset": dataset,
        "title": variant.title,
        "summary": variant.summary,
        "config": asdict(result.config),
        "parameters": count_parameters(clean),
        "training": {
            **asdict(result.train_config),
            "epochs_completed": result.epochs_completed,
            "optimizer": "Adam",
            "schedule": "cosine decay per step to 1% of the peak rate",
            "loss": variant.loss,
            "training_images": result.train_config.subset or 55000,
            "seconds": round(result.seconds, 1),
            "samples_per_second": round(result.samples_per_second),
            "final": {key: round(values[-1], 5) for key, values in result.history.items()},
            "trained_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "machine": machine(),
        },
        "metrics": {},
    }
    write_card(name, card, directory, dataset)
    return card


def count_parameters(model) -> int:
    """Trainable parameters, each shared variable counted once (tied weights!)."""
    unique = {id(weight): weight for weight in model.trainable_weights}
    total = 0
    for weight in unique.values():
        size = 1
        for dimension in weight.shape:
            size *= int(dimension)
        total += size
    return total
