"""Write a trained Keras autoencoder as a serving bundle (see core.ml.served) for the web tier.

Runs where Keras lives: the retraining command and `make onnx` for the shipped models, a worker
for each checkpoint of a student's run. Keras exports each half itself (`Model.export(...,
format="onnx")`, through tf2onnx); the whole subclassed `Autoencoder` refuses to export, and the
page needs the halves anyway (the code on Home, the decoder on Latent).

    python -m core.ml.onnx_export             # every shipped model, both datasets
    python -m core.ml.onnx_export vae --dataset fashion
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from core.ml.served import ACTIVATIONS, FORMAT, Served, shipped_path

# The layers a Dense chain may hold besides Dense ones: they do nothing at inference (a
# flatten or reshape keeps the row-major order; KLSparsity only adds a training loss).
PASS_THROUGH = ("InputLayer", "Flatten", "Reshape", "KLSparsity")


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
    for layer in encoder.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            return np.asarray(kernel, np.float32)
    raise ValueError(f"{encoder.name} has no layer with a kernel")


def bundle(model, name: str = "", keras_weights: bool = True) -> bytes:
    """The serving bundle of a Keras autoencoder (one with `encoder` and `decoder` halves).
    With `keras_weights`, it also carries the model's Keras `.weights.h5` file: a student
    downloads their run's weights from the Train page, and the server cannot write one."""
    images = np.zeros((1, 28, 28, 1), np.float32)
    code = model.encoder(images, training=False)
    code = np.asarray(code[0] if isinstance(code, (list, tuple)) else code)
    arrays = {}
    meta = {"format": FORMAT, "name": name, "code_shape": list(code.shape[1:])}
    for part in ("encoder", "decoder"):
        chain = _dense_chain(getattr(model, part))
        meta[f"{part}_chain"] = None if chain is None else [a for _, _, a in chain]
        for index, (kernel, bias, _) in enumerate(chain or []):
            arrays[f"{part}/{index}/kernel"] = kernel
            arrays[f"{part}/{index}/bias"] = bias
    if meta["encoder_chain"] is None:  # Else it is the chain's first kernel: stored once.
        arrays["first_layer"] = _first_kernel(model.encoder)
    weights = io.BytesIO()
    np.savez(weights, **arrays)
    out = io.BytesIO()
    # ONNX and float weights barely compress; storing keeps writing and loading fast.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("meta.json", json.dumps(meta))
        archive.writestr("layers.npz", weights.getvalue())
        archive.writestr("encoder.onnx", _export_half(model.encoder, images))
        archive.writestr("decoder.onnx", _export_half(model.decoder, code[:1]))
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
    code = model.encoder(images, training=False)
    code = np.asarray(code[0] if isinstance(code, (list, tuple)) else code)
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
