"""Retrain a shipped model reproducibly and rewrite its card, with a terminal progress bar.

python -m core.train vanilla                 # the shipped recipe
python -m core.train conv --epochs 5 --seed 1
python -m core.train all                     # every model, twins included
python -m core.train all --dataset fashion   # the Fashion-MNIST models (trained/fashion/)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core.ml import cards, replay, variants
from core.ml.callbacks import Progress, ReplayRecorder
from core.ml.onnx_export import export_shipped
from core.ml.training import TrainConfig, load_splits, train


def terminal_bar(name: str):
    """An `on_progress` that redraws one line: epoch, bar, losses and time left."""

    def show(progress: Progress) -> None:
        width = 30
        filled = int(width * progress.fraction)
        losses = " ".join(f"{key} {value:.4f}" for key, value in progress.logs.items())
        left = progress.seconds_left
        eta = f"{left:5.0f}s left" if left is not None else ""
        line = (
            f"\r{name:>16} epoch {progress.epoch + 1}/{progress.epochs} "
            f"[{'#' * filled}{'.' * (width - filled)}] {losses} {eta}"
        )
        sys.stderr.write(line[:160].ljust(160))
        if progress.done:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names", nargs="+", help=f"all, or some of: {', '.join(variants.all_names())}"
    )
    parser.add_argument("--epochs", type=int, help="default: the shipped recipe's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--subset", type=int, help="training images (default: all 55000)")
    parser.add_argument(
        "--out", type=Path, help="folder for the model and card (default: trained/)"
    )
    parser.add_argument("--no-evaluate", action="store_true", help="skip the test metrics")
    parser.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    args = parser.parse_args(argv)

    shipped = variants.all_names() if args.dataset == "mnist" else variants.names()
    names = shipped if args.names == ["all"] else args.names
    unknown = [name for name in names if name not in variants.all_names()]
    if unknown:
        choices = ", ".join(variants.all_names())
        parser.error(f"unknown variant {unknown[0]!r}; choose all or one of {choices}")
    splits = load_splits(args.dataset)
    for name in names:
        recipe = variants.get(name).recipe(args.dataset)
        for key in ("epochs", "seed", "batch_size", "learning_rate", "subset"):
            value = getattr(args, key)
            if value is not None:
                recipe[key] = value
        started = time.perf_counter()
        recorder = ReplayRecorder(splits.x_test)
        result = train(
            name,
            TrainConfig(**recipe),
            model_config=variants.make_config(
                name, **variants.get(name).recipe_config(args.dataset)
            ),
            splits=splits,
            on_progress=terminal_bar(name),
            callbacks=[recorder],
        )
        cards.save_trained(name, result, args.out)
        if recorder.frames:  # A 2-D code: ship how it formed, for the Latent page's replay.
            replay.save(
                replay.path_of(cards.model_path(name, args.out, args.dataset)), recorder.frames
            )
        # What the web tier runs (core.ml.served), from the file just written, checked
        # against Keras before it is kept.
        export_shipped(name, args.dataset, args.out)
        print(
            f"{name}: {result.epochs_completed} epochs in {result.seconds:.0f} s, "
            f"saved to {cards.model_path(name, args.out, args.dataset)}",
            flush=True,
        )
        if not args.no_evaluate:
            from core.ml.evaluate import evaluate

            evaluate([name], args.out, splits=splits, dataset=args.dataset)
        print(f"{name}: done in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
