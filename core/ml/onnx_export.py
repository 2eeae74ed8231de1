"""Write a trained Keras autoencoder as a serving bundle (see core.ml.served) for the web tier.

Runs where Keras lives: the retraining command and `make onnx` for the shipped models, a worker
for each checkpoint of a student's run (by refilling one export's graphs with each
checkpoint's weights: `Refill`). Keras exports each half itself (`Model.export(...,
format="onnx")`, through tf2onnx); the whole subclassed `Autoencoder` refuses to export, and the
page needs the halves anyway (the code on Home, the decoder on Latent).

    python -m core.ml.onnx_export             # every shipped model, both datasets
    python -m core.ml.onnx_export vae --dataset fashion
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from core.ml import metrics
from core.ml.served import ACTIVATIONS, FORMAT, Served, shipped_path

# The layers a Dense chain may hold besides Dense ones: they do nothing at inference (a
# flatten or reshape keeps the row-major order; KLSparsity only adds a training loss).
PASS_THROUGH = ("InputLayer", "Flatten", "Reshape", "KLSparsity")
LOG = logging.getLogger("autoencoder_lab.onnx_export")


def _for_inference(half):
    """`half` without activity regularisers, which only add a training loss but leave a node
    in the traced graph that tf2onnx cannot fetch (the L1-sparse code layer failed with
    "Fetch node encoder_1/code_1/mul/x doesn't exist"). Other layers are shared, not copied:
    a tied decoder keeps reading its encoder's kernel."""
    import keras

    if not any(getattr(layer, "activity_regularizer", None) for layer in half.layers):
        return half
    copies = []

    def strip(layer):
        if getattr(layer, "activity_regularizer", None) is None:
            return layer
        copy = layer.__class__.from_config({**layer.get_config(), "activity_regularizer": None})
        copies.append((copy, layer))
        return copy

    clean = keras.models.clone_model(half, clone_function=strip)
    for copy, layer in copies:
        copy.set_weights(layer.get_weights())
    return clean


def _export_half(half, example: np.ndarray) -> bytes:
    """One functional half as ONNX bytes. A half loaded from a file has 'never called' for
    Keras's exporter, so it is called once on `example` first."""
    half = _for_inference(half)
    half(example, training=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{half.name}.onnx"
        # tf2onnx logs every graph rewrite at INFO, and Keras's shim for it warns about
        # np.object on every export: a worker's log needs neither.
        logging.getLogger("tf2onnx").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)
            half.export(str(path), format="onnx", verbose=False)
        return path.read_bytes()


def _dense_chain(half) -> list[tuple[np.ndarray, np.ndarray, str]] | None:
    """(kernel, bias, activation) of each Dense layer of `half`, or None when the half is not
    one chain of Dense layers with a supported activation."""
    from keras import layers

    if len(half.outputs) != 1:  # A VAE's encoder: two heads (z_mean, z_log_var).
        return None
    chain = []
    for layer in half.layers:
        if type(layer).__name__ in PASS_THROUGH:
            continue
        if type(layer).__name__ == "DenseTranspose":  # The tied decoder's: W of another layer.
            kernel = np.asarray(layer.tied_to.kernel).T
        elif isinstance(layer, layers.Dense):
            kernel = np.asarray(layer.kernel)
        else:
            return None
        activation = getattr(layer.activation, "__name__", str(layer.activation))
        if activation not in ACTIVATIONS:
            return None
        bias = np.asarray(layer.bias) if layer.bias is not None else np.zeros(kernel.shape[1])
        chain.append((kernel.astype(np.float32), bias.astype(np.float32), activation))
    return chain or None


def _first_kernel(encoder) -> np.ndarray:
    """The first kernel the image meets, inside nested models too (a conditional VAE's
    encoder is its classifier head, then its style encoder)."""
    for layer in encoder.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            return np.asarray(kernel, np.float32)
        if hasattr(layer, "layers"):
            with contextlib.suppress(ValueError):
                return _first_kernel(layer)
    raise ValueError(f"{encoder.name} has no layer with a kernel")


def _example_code(model, images: np.ndarray) -> np.ndarray:
    """The code of `images` (a VAE's mean code)."""
    code = model.encoder(images, training=False)
    return np.asarray(code[0] if isinstance(code, (list, tuple)) else code)


def _halves(model) -> dict[str, bytes]:
    images = np.zeros((1, 28, 28, 1), np.float32)
    return {
        "encoder": _export_half(model.encoder, images),
        "decoder": _export_half(model.decoder, _example_code(model, images)[:1]),
    }


class Refill:
    """One architecture's exported halves with their weights left to fill in: a worker writes
    a bundle with every checkpoint of a run (an epoch of a small model takes about a second,
    and exporting through tf2onnx 0.3-3 s), and only the weights change between them.

    `slots[part]` lists, for each initializer of that half's graph that holds a weight, the
    index of the weight in `model.get_weights()` and the axes permutation tf2onnx applied to
    it (a convolution's kernel becomes (out, in, h, w); a tied decoder reads the encoder's
    kernel transposed)."""

    def __init__(self, graphs: dict[str, bytes], slots: dict[str, list[tuple[str, int, tuple]]]):
        self.graphs, self.slots = graphs, slots

    def halves(self, weights: list[np.ndarray]) -> dict[str, bytes]:
        import onnx
        from onnx import numpy_helper

        out = {}
        for part, graph in self.graphs.items():
            proto = onnx.load_from_string(graph)
            initializers = {init.name: init for init in proto.graph.initializer}
            for init_name, index, axes in self.slots[part]:
                init = initializers[init_name]
                value = np.transpose(weights[index], axes).reshape(tuple(init.dims))
                init.CopyFrom(numpy_helper.from_array(value.astype(np.float32), init_name))
            out[part] = proto.SerializeToString()
        return out


def _marked(weights: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Distinct small random values in place of every float weight: none is zero (tf2onnx folds
    away an addition of zeros) and no two are equal, so each initializer shows whose it is."""
    rng = np.random.default_rng(seed)
    return [
        (rng.uniform(0.01, 0.05, w.shape) * rng.choice([-1, 1], w.shape)).astype(w.dtype)
        if np.issubdtype(w.dtype, np.floating)
        else w
        for w in weights
    ]


def _initializers(graph: bytes) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    proto = onnx.load_from_string(graph)
    return {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}


def _find_slot(value: np.ndarray, marks: list[np.ndarray]) -> tuple[int, tuple] | None:
    """(weight index, axes) of the marked weight that, so permuted, is `value`; None when
    none is (a constant of the graph: a shape, a scale)."""
    from itertools import permutations

    for index, weight in enumerate(marks):
        if weight.size != value.size or not np.issubdtype(weight.dtype, np.floating):
            continue
        for axes in permutations(range(weight.ndim)):
            if np.array_equal(np.transpose(weight, axes).ravel(), value.ravel()):
                return index, axes
    return None


def refill_for(model) -> Refill | None:
    """The Refill of `model`'s architecture, found by exporting it with marked weights (so
    `model` must be a spare one: its weights are overwritten), then checked by filling in
    other marks and comparing ONNX Runtime with Keras on random images. None when that check
    fails (an initializer that tf2onnx computed from a weight instead of copying it): the
    caller then exports every bundle in full."""
    weights = model.get_weights()
    marks, check = _marked(weights, 1), _marked(weights, 2)
    model.set_weights(marks)
    graphs = _halves(model)
    slots = {}
    for part, graph in graphs.items():
        slots[part] = []
        for init_name, value in _initializers(graph).items():
            found = _find_slot(value, marks)
            if found is not None:
                slots[part].append((init_name, *found))
    refill = Refill(graphs, slots)
    model.set_weights(check)
    images = np.random.default_rng(3).uniform(0, 1, (8, 28, 28, 1)).astype(np.float32)
    measured = differences(model, Served(bundle(model, refill=refill, keras_weights=False)), images)
    if any(value > TOLERANCE[part] for part, value in measured.items()):
        LOG.warning("%s: refilled halves differ from Keras by %s", model.name, measured)
        return None
    return refill


def bundle(
    model, name: str = "", keras_weights: bool = True, refill: Refill | None = None
) -> bytes:
    """The serving bundle of a Keras autoencoder (one with `encoder` and `decoder` halves).
    With `keras_weights`, it also carries the model's Keras `.weights.h5` file: a student
    downloads their run's weights from the Train page, and the server cannot write one.
    With `refill` (the Refill of the model's architecture), the halves are its graphs with
    the model's weights filled in instead of a new export."""
    images = np.zeros((1, 28, 28, 1), np.float32)
    code = _example_code(model, images)
    arrays = {}
    meta = {"format": FORMAT, "name": name, "code_shape": list(code.shape[1:])}
    # A conditional model's code ends with its class, one-hot (`Variant.classes`).
    meta["classes"] = int(getattr(model, "classes", 0))
    for part in ("encoder", "decoder"):
        chain = _dense_chain(getattr(model, part))
        meta[f"{part}_chain"] = None if chain is None else [a for _, _, a in chain]
        for index, (kernel, bias, _) in enumerate(chain or []):
            arrays[f"{part}/{index}/kernel"] = kernel
            arrays[f"{part}/{index}/bias"] = bias
    if meta["encoder_chain"] is None:  # Else it is the chain's first kernel: stored once.
        arrays["first_layer"] = _first_kernel(model.encoder)
    table = metrics.codebook(model)
    if table is not None:  # A VQ-VAE: Inside and Draw turn its code into tokens.
        arrays["codebook"] = table
    weights = io.BytesIO()
    np.savez(weights, **arrays)
    out = io.BytesIO()
    # ONNX and float weights barely compress; storing keeps writing and loading fast.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("meta.json", json.dumps(meta))
        archive.writestr("layers.npz", weights.getvalue())
        halves = _halves(model) if refill is None else refill.halves(model.get_weights())
        archive.writestr("encoder.onnx", halves["encoder"])
        archive.writestr("decoder.onnx", halves["decoder"])
        if keras_weights:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.weights.h5"
                model.save_weights(path)
                archive.writestr(path.name, path.read_bytes())
    return out.getvalue()


# How close ONNX Runtime must come to Keras, per part (checked on every shipped export and in
# tests/unit/test_served.py). Each half runs to within float32 rounding of Keras on the same
# input: the decoder to 1e-5 in pixels, the encoder to 1e-5 of the code's scale (codes reach
# ~20, where one float32 step is 2e-6). The whole chain cannot be held to that: the decoder
# amplifies the encoder's last-bit rounding, most in the VAE, whose 2-D code moves the whole
# picture. Measured: MNIST's VAE, mean codes 1.7e-6 apart, pixels 1.06e-5 apart (either
# decoder within 1.2e-6 of a float64 computation on the same code); Fashion-MNIST's, 3.2e-5.
# A wrong weight shows at 1e-3 and more (tests/unit/test_served.py).
TOLERANCE = {"encoder": 1e-5, "decoder": 1e-5, "reconstruction": 1e-4}


def differences(model, served: Served, images: np.ndarray) -> dict[str, float]:
    """max |Keras - ONNX Runtime| on `images`, per part (the encoder's relative to its code's
    largest magnitude, at least 1)."""
    code = _example_code(model, images)
    return {
        "encoder": float(np.abs(served.encode(images) - code).max() / max(1.0, np.abs(code).max())),
        "decoder": float(
            np.abs(served.decode(code) - np.asarray(model.decoder(code, training=False))).max()
        ),
        "reconstruction": float(
            np.abs(served(images) - np.asarray(model(images, training=False))).max()
        ),
    }


def export_shipped(name: str, dataset: str = "mnist", directory: Path | None = None) -> Path:
    """Write trained/<name>.onnx.zip from trained/<name>.keras and check it against Keras on
    test images; a difference above TOLERANCE stops with an error instead of shipping it."""
    from core.ml import cards, data

    model = cards.load_model(name, directory, dataset)
    path = shipped_path(name, dataset, directory)
    written = bundle(model, name, keras_weights=False)  # trained/ has the .keras file.
    _, (x_test, _) = data.load(dataset)
    images = data.to_images(x_test[:256])
    measured = differences(model, Served(written), images)
    over = {part: value for part, value in measured.items() if value > TOLERANCE[part]}
    if over:
        raise RuntimeError(f"{path.name}: ONNX differs from Keras by {over}")
    path.write_bytes(written)
    return path


def main(argv: list[str] | None = None) -> int:
    from core.ml import cards, data, variants

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="shipped models (default: every one)")
    parser.add_argument("--dataset", choices=list(data.DATASETS), help="default: every dataset")
    args = parser.parse_args(argv)
    for dataset in [args.dataset] if args.dataset else list(data.DATASETS):
        for name in args.names or variants.all_names():
            if not cards.model_path(name, dataset=dataset).is_file():
                continue
            path = export_shipped(name, dataset)
            print(f"{path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
