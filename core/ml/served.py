"""A trained autoencoder as the web tier runs it: ONNX Runtime and NumPy, no TensorFlow.

The app server imports this module, never Keras: TensorFlow alone is ~600 MB resident and most
of a cold start. Whoever trains the model (the retraining command for the shipped ones, a worker
for a student's run) writes a *bundle* with `core.ml.onnx_export`: one zip holding

- `encoder.onnx` (images (N, 28, 28, 1) -> the code; a VAE's encoder gives z_mean, z_log_var)
  and `decoder.onnx` (code -> images), exported by Keras itself (`Model.export(format="onnx")`);
- `layers.npz` and `meta.json`: the weights the pages read directly (the first layer's filters,
  the Dense chains a browser runs or a Jacobian is computed from), so the page never needs the
  Keras model to look inside it.

Every reconstruction goes through both halves, as `Autoencoder.call` and `VAE.call` do (the VAE
decodes its mean code). tests/unit/test_served.py checks each shipped bundle against Keras.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = 1  # Written into meta.json; a bundle of another format is refused, never guessed at.
ACTIVATIONS = ("linear", "relu", "sigmoid")
SUFFIX = ".onnx.zip"


class BundleError(ValueError):
    """The bytes are not a serving bundle this code can run."""


@dataclass(frozen=True)
class Dense:
    """One Dense layer of a chain, in float32: x @ kernel + bias, then `activation`."""

    kernel: np.ndarray  # (inputs, outputs)
    bias: np.ndarray  # (outputs,)
    activation: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return activate(x @ self.kernel + self.bias, self.activation)


def activate(x: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(x, 0.0)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))  # exp(60) is still finite.
    return x


def _session(model: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # No memory arena: it keeps the largest batch ever run (10,000 test images on Inside) for
    # the life of the session, and the server holds dozens of sessions.
    options.enable_cpu_mem_arena = False
    # One thread per call, and no spinning: by default each session keeps a pool of a
    # thread per core that busy-waits after every call, and a server holds dozens of sessions
    # on 2 cores. The browser tests' Firefox, sharing the machine, then missed its reruns'
    # deadlines. The pages run one image at a time, or a cached pass over the test set.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # Nor pre-packed copies of the weights (a speed-up for large batches the pages never run):
    # measured, they doubled what the shipped models hold.
    options.add_session_config_entry("session.disable_prepacking", "1")
    options.log_severity_level = 3  # Errors only: tf2onnx's graphs make ORT chatty.
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class Served:
    """A trained autoencoder's two halves under ONNX Runtime, and the weights pages read.

    Read-only and safe to share between sessions (ONNX Runtime's `run` is thread-safe)."""

    def __init__(self, data: bytes, key: str = ""):
        self.key = key
        # The bundle's size, what caches weigh it by: resident, its ONNX Runtime sessions hold
        # about twice as much (one dataset's 13 shipped models: ~29 MB of bundles, 67 MB).
        self.nbytes = len(data)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as bundle:
                self.meta = json.loads(bundle.read("meta.json"))
                if self.meta.get("format") != FORMAT:
                    raise BundleError(f"bundle format {self.meta.get('format')}, not {FORMAT}")
                with np.load(io.BytesIO(bundle.read("layers.npz"))) as arrays:
                    self.arrays = {name: arrays[name] for name in arrays.files}
                names = set(bundle.namelist())
                # A run's Keras weights file, for its download button (core.ml.onnx_export).
                self.keras_weights = (
                    bundle.read("model.weights.h5") if "model.weights.h5" in names else None
                )
                self._encoder = _session(bundle.read("encoder.onnx"))
                self._decoder = _session(bundle.read("decoder.onnx"))
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
            raise BundleError(f"not a serving bundle: {error}") from error

    @classmethod
    def load(cls, path: Path, key: str = "") -> Served:
        return cls(Path(path).read_bytes(), key or str(path))

    # The halves ----------------------------------------------------------------------------

    def encode(self, images: np.ndarray) -> np.ndarray:
        """The code of each image, as the model's code layer shapes it; a VAE's mean (its
        encoder's first output; the second, the log-variance, no page shows)."""
        batch = np.ascontiguousarray(images, np.float32).reshape(-1, 28, 28, 1)
        return self._encoder.run(None, {self._encoder.get_inputs()[0].name: batch})[0]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Images (N, 28, 28, 1) from codes of the decoder's input shape."""
        codes = np.ascontiguousarray(codes, np.float32).reshape(-1, *self.code_shape)
        return self._decoder.run(None, {self._decoder.get_inputs()[0].name: codes})[0]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """The reconstruction of each image: decoder(encoder(x)), the mean code for a VAE."""
        return self.decode(self.encode(images))

    @property
    def code_shape(self) -> tuple[int, ...]:
        return tuple(self.meta["code_shape"])

    @property
    def code_size(self) -> int:
        """How many numbers the code holds (4x4x8 = 128 for the shipped convolutional one); a
        VQ-VAE's tokens (7x7 = 49), one codebook index per position; a conditional VAE's
        style (2), its class aside."""
        shape = self.code_shape if self.codebook is None else self.code_shape[:-1]
        return int(np.prod(shape)) - self.classes

    @property
    def classes(self) -> int:
        """A conditional model's class count: its code's last numbers, one-hot; else 0."""
        return int(self.meta.get("classes", 0))

    def decode_as(self, styles: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """A conditional model's images of `classes` (N integers) in `styles` (N, style)."""
        one_hot = np.eye(self.classes, dtype=np.float32)[np.asarray(classes, int)]
        return self.decode(np.concatenate([np.asarray(styles, np.float32), one_hot], axis=1))

    @property
    def codebook(self) -> np.ndarray | None:
        """A VQ-VAE's codebook vectors (codes, dim); None for other models."""
        return self.arrays.get("codebook")

    def tokens(self, images: np.ndarray) -> np.ndarray:
        """A VQ-VAE's code of each image as codebook indices (N, 7, 7)."""
        from core.ml import codebook

        return codebook.indices(self.encode(images), self.codebook)

    def decode_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """Images from grids of codebook indices (N, 7, 7): each index becomes its vector."""
        return self.decode(self.codebook[np.asarray(tokens)])

    # Weights the pages read ----------------------------------------------------------------

    def chain(self, part: str) -> list[Dense] | None:
        """The encoder's or decoder's Dense layers in order (a flatten or reshape dropped), or
        None when that half is not a plain Dense chain (convolutions, a VAE's two heads)."""
        activations = self.meta.get(f"{part}_chain")
        if activations is None:
            return None
        return [
            Dense(self.arrays[f"{part}/{i}/kernel"], self.arrays[f"{part}/{i}/bias"], activation)
            for i, activation in enumerate(activations)
        ]

    @property
    def first_layer(self) -> np.ndarray:
        """The encoder's first kernel: (784, units) for a Dense layer, (k, k, 1, filters) for
        a convolution."""
        found = self.arrays.get("first_layer")
        return self.arrays["encoder/0/kernel"] if found is None else found


def shipped_path(name: str, dataset: str = "mnist", directory: Path | None = None) -> Path:
    """trained/<name>.onnx.zip beside trained/<name>.keras (fashion's in trained/fashion/)."""
    from core.ml import cards

    return cards.folder(directory, dataset) / f"{name}{SUFFIX}"


def load_shipped(name: str, dataset: str = "mnist", directory: Path | None = None) -> Served:
    key = f"shipped:{name}" if dataset == "mnist" else f"shipped:{dataset}/{name}"
    return Served.load(shipped_path(name, dataset, directory), key)
