"""Measures candidate defaults of the lessons on the validation split (issue 27): which race
settings rank the racers the way the lab's texts say, and how many epochs the Train page's
VAE needs before its reconstructions are recognisable digits.

    python -m bench.lesson_defaults [--only race|vae] [--seeds 0 1]

Every figure is a run as the lab makes it (core.ml.choices.configs, the live defaults), scored
on the 5,000 held-out validation images: MSE per pixel for every racer, and for the VAE the
share of its reconstructions that a small classifier (trained here on the training split)
reads as the digit that went in. Writes bench/DEFAULTS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "DEFAULTS.md"


def val_mse(model, x_val: np.ndarray) -> float:
    output = np.asarray(model.predict(x_val, batch_size=500, verbose=0))
    return float(np.mean((output - x_val) ** 2))


def run(variant: str, values: dict, splits, seed: int):
    from core.ml.choices import configs
    from core.ml.training import train

    train_config, model_config = configs(variant, {**values, "seed": seed})
    started = time.perf_counter()
    result = train(variant, train_config, model_config, splits=splits)
    return result.model, time.perf_counter() - started


def classifier(splits):
    """A small dense classifier of the training split's digits: ~97-98% on validation."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    keras.utils.set_random_seed(0)
    model.fit(splits.x_train, splits.y_train, epochs=3, batch_size=128, verbose=0)
    return model


def recognised(reader, images: np.ndarray, labels: np.ndarray) -> float:
    guess = np.asarray(reader.predict(images, batch_size=500, verbose=0)).argmax(axis=1)
    return float(np.mean(guess == labels))


# Each racer at its own live learning rate (its variant's `live`), as the Race page runs it.
RACES = {
    "default (choices.DEFAULT_RACE): 10 epochs, 10,000 images": {"epochs": 10, "subset": 10000},
    "5 epochs, 10,000 images (the old default)": {"epochs": 5, "subset": 10000},
    "5 epochs, 55,000 images": {"epochs": 5, "subset": 55000},
}
RACERS = ("vanilla", "deep", "linear")

VAE_RUNS = {
    "default (the VAE's live settings)": {},
    "5 epochs, 10,000 images at 2e-3 (the old default)": {"epochs": 5, "learning_rate": 2e-3},
    "5 epochs, 55,000 images at 2e-3": {"epochs": 5, "subset": 55000, "learning_rate": 2e-3},
}


def main(argv: list[str] | None = None) -> None:
    from core.ml.training import load_splits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("race", "vae"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    splits = load_splits()
    lines = ["# Lesson defaults, measured", "", f"Seeds: {args.seeds}.", ""]
    if args.only in (None, "race"):
        lines += ["## Race: validation MSE per pixel (seconds)", ""]
        lines += ["| settings | " + " | ".join(RACERS) + " | order |", "|---" * 5 + "|"]
        for label, values in RACES.items():
            cells, scores = [], {}
            for racer in RACERS:
                mses, times = [], []
                for seed in args.seeds:
                    model, seconds = run(racer, values, splits, seed)
                    mses.append(val_mse(model, splits.x_val))
                    times.append(seconds)
                scores[racer] = float(np.mean(mses))
                cells.append(f"{scores[racer]:.4f} ({np.mean(times):.0f} s)")
            order = " < ".join(sorted(scores, key=scores.get))
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {order} |")
            print(lines[-1], flush=True)
        lines.append("")
    if args.only in (None, "vae"):
        reader = classifier(splits)
        base = recognised(reader, splits.x_val, splits.y_val)
        lines += [
            "## Train page's VAE: reconstructions read as the digit that went in",
            "",
            f"The reader reads {base:.1%} of the validation digits themselves.",
            "",
            "| settings | recognised | validation MSE | seconds |",
            "|---|---|---|---|",
        ]
        for label, values in VAE_RUNS.items():
            for seed in args.seeds:
                model, seconds = run("vae", values, splits, seed)
                output = np.asarray(model.predict(splits.x_val, batch_size=500, verbose=0))
                share = recognised(reader, output, splits.y_val)
                mse = float(np.mean((output - splits.x_val) ** 2))
                lines.append(f"| {label} (seed {seed}) | {share:.1%} | {mse:.4f} | {seconds:.0f} |")
                print(lines[-1], flush=True)
        lines.append("")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
