"""How a code forms: the 2-D codes of a fixed set of test images after every epoch.

A model whose code has two numbers (the VAE, or vanilla and deep trained with code size 2) can
show its whole code on a plane. Recording where the same test images land after each epoch
lets the Latent page play the training back: a grey cloud at epoch 0 that sorts itself into
one region per class. Runs keep the frames in the store (`epochs.codes`); shipped models carry
them in `<name>.replay.npz` beside the model, written by `python -m core.train` (with
`core.ml.callbacks.ReplayRecorder`). The pages read frames here without Keras.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.ml import metrics

# The first 2,000 test images: every class ~200 times, few enough to draw a frame in a moment
# (a frame is 8 KB as float16).
IMAGES = 2000


def is_2d(model) -> bool:
    return metrics.code_size(model) == 2


def codes(model, images: np.ndarray) -> np.ndarray:
    """The (N, 2) codes of `images` (a VAE's means)."""
    # A conditional model's code ends with its class: the style comes first.
    return metrics.encode(model, images[:IMAGES])[:, :2].astype(np.float32)


def path_of(model_path: Path) -> Path:
    return model_path.with_suffix(".replay.npz")


def save(path: Path, frames: list[tuple[int, np.ndarray]]) -> None:
    np.savez_compressed(
        path,
        epochs=np.array([epoch for epoch, _ in frames], np.int32),
        codes=np.stack([frame for _, frame in frames]).astype(np.float16),
    )


def load(path: Path) -> list[tuple[int, np.ndarray]]:
    """A shipped replay's frames, or [] when the model has none (plain arrays, no pickle)."""
    if not path.is_file():
        return []
    with np.load(path, allow_pickle=False) as found:
        return [
            (int(epoch), frame.astype(np.float32))
            for epoch, frame in zip(found["epochs"], found["codes"], strict=True)
        ]
