"""Measure the leave-one-digit-out table the Odd one out page shows beside Tonnaer's.

    python -m core.ml.odd_table             # all 20 models (~2 min each here), resumable
    python -m core.ml.odd_table --epochs 2  # a quick, rough table (tests use fewer images)

For each digit d and each code size (2 and 32), a VAE of the shipped recipe's architecture is
trained on MNIST without d (training and validation images; `TrainConfig.odd`) and scores the
10,000 test images two ways: by reconstruction error (MSE of the mean code's decoding, what the
page uses for any variant) and by negative ELBO (Tonnaer's score). The area under the ROC curve
of d against the other digits is kept for both. Written to trained/odd_one_out.json after every
model, so a stopped measurement resumes where it was.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from core.ml import cards, odd_one_out
from core.ml.train_config import TrainConfig

CODE_SIZES = (2, 32)
# Ten epochs of every normal image (~49,500) at the shipped VAE's rate: the shipped model's
# 60 epochs for 20 models would take ~5 hours here.
RECIPE = {"epochs": 10, "batch_size": 128, "learning_rate": 2e-3, "seed": 0}


def measure_one(digit: int, code_size: int, recipe: dict, splits, subset: int | None) -> dict:
    """Train one VAE without `digit` and score the test images: its row of the table."""
    from core.ml import metrics, training, variants

    config = TrainConfig(**recipe, subset=subset, validation=False, odd=[digit])
    started = time.perf_counter()
    result = training.train(
        "vae", config, model_config=variants.make_config("vae", latent_dim=code_size),
        splits=splits,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    x_test, odd = splits.x_test, odd_one_out.split(splits.y_test, [digit])
    by_error = odd_one_out.errors(x_test, metrics.reconstruct(result.model, x_test))
    by_elbo = metrics.negative_elbos(result.model, x_test)
    return {
        "digit": digit,
        "code_size": code_size,
        "auc_error": round(odd_one_out.auc(by_error[~odd], by_error[odd]), 4),
        "auc_elbo": round(odd_one_out.auc(by_elbo[~odd], by_elbo[odd]), 4),
        "negative_elbo_normal": round(float(by_elbo[~odd].mean()), 2),
        "training_images": int(
            min(subset or 10**9, int((~np.isin(splits.y_train, [digit])).sum()))
        ),
        "seconds": round(seconds, 1),
    }


def measure(path: Path, recipe: dict, subset: int | None = None, digits=range(10)) -> dict:
    """Every (digit, code size) not yet in `path`'s table, written after each one."""
    from core.ml.training import load_splits

    table = json.loads(path.read_text()) if path.is_file() else {}
    if table.get("recipe") != {**recipe, "subset": subset}:
        table = {"recipe": {**recipe, "subset": subset}, "rows": []}  # Another recipe: anew.
    table["tonnaer"] = {str(size): list(row) for size, row in odd_one_out.TONNAER.items()}
    done = {(row["digit"], row["code_size"]) for row in table["rows"]}
    splits = load_splits("mnist")
    for code_size in CODE_SIZES:
        for digit in digits:
            if (digit, code_size) in done:
                continue
            row = measure_one(digit, code_size, recipe, splits, subset)
            print(json.dumps(row), flush=True)
            table["rows"].append(row)
            table["rows"].sort(key=lambda row: (row["code_size"], row["digit"]))
            path.write_text(json.dumps(table, indent=2) + "\n")
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--subset", type=int, default=None, help="training images per model")
    parser.add_argument(
        "--out", type=Path, default=cards.folder(None, "mnist") / odd_one_out.TABLE_FILE
    )
    args = parser.parse_args(argv)
    measure(args.out, {**RECIPE, "epochs": args.epochs}, args.subset)


if __name__ == "__main__":
    main()
