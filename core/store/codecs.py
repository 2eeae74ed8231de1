"""Arrays to and from the bytes the store keeps: checkpoints, sample images and 2-D codes.

Plain NumPy formats only (an .npz without pickles, raw uint8 and float16), so reading a row
never runs code from the database.
"""

from __future__ import annotations

import io

import numpy as np


def weights_to_bytes(
    weights: list[np.ndarray], optimizer_state: list[np.ndarray] | None = None
) -> bytes:
    """A model's weight arrays as an .npz (plain arrays, loadable without pickle): arr_0,
    arr_1, ..., and the optimizer's variables (`core.ml.callbacks.optimizer_state`) beside them as
    opt_0, opt_1, ... when given, so a continued run goes on with Adam's moments."""
    buffer = io.BytesIO()
    optimizer = {f"opt_{index}": value for index, value in enumerate(optimizer_state or [])}
    np.savez(buffer, *weights, **optimizer)
    return buffer.getvalue()


def _npz_arrays(archive, prefix: str) -> list[np.ndarray]:
    """An .npz's arrays named prefix0, prefix1, ... in order (members load lazily: only these)."""
    count = sum(name.startswith(prefix) for name in archive.files)
    return [archive[f"{prefix}{index}"] for index in range(count)]


def weights_from_bytes(blob: bytes) -> list[np.ndarray]:
    """The model weights of a checkpoint, without its optimizer state."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return _npz_arrays(archive, "arr_")


def checkpoint_from_bytes(blob: bytes) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """(model weights, optimizer state) of a checkpoint; the state is None in a checkpoint
    written before it was kept (a run continued from it restarts Adam's moments)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return _npz_arrays(archive, "arr_"), _npz_arrays(archive, "opt_") or None


def samples_to_bytes(images: np.ndarray) -> bytes:
    """Reconstructions in [0, 1] as uint8 bytes (8 x 28 x 28 = 6 KB an epoch)."""
    return (np.clip(np.asarray(images), 0.0, 1.0) * 255).round().astype(np.uint8).tobytes()


def samples_from_bytes(blob: bytes) -> np.ndarray:
    """Back to float images (N, 28, 28, 1) in [0, 1]."""
    return (np.frombuffer(blob, np.uint8).reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)


def codes_to_bytes(codes: np.ndarray) -> bytes:
    """2-D codes as float16 bytes: 4 bytes an image, ample for a scatter plot."""
    return np.asarray(codes, np.float16).reshape(-1, 2).tobytes()


def codes_from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, np.float16).reshape(-1, 2).astype(np.float32)


def weights_without_optimizer(blob: bytes) -> bytes | None:
    """The checkpoint `blob` with its model weights alone, or None if it holds nothing else."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        if not any(name.startswith("opt_") for name in archive.files):
            return None
        return weights_to_bytes(_npz_arrays(archive, "arr_"))
