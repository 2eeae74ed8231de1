"""Every variant: builds, honours the contract, and survives a save/load round trip."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from core.ml import cards, variants
from core.ml.variants.tied_model import DenseTranspose

ROOT = Path(__file__).resolve().parents[2]
IMAGES = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)


def test_registry_lists_every_variant_of_the_field():
    assert variants.names() == [
        "vanilla",
        "deep",
        "conv",
        "denoising",
        "sparse_l1",
        "sparse_kl",
        "contractive",
        "vae",
        "linear",
        "tied",
        "vqvae",
        "cvae",
    ]
    for name in variants.names():
        variant = variants.get(name)
        assert variant.name == name and variant.shipped
        assert len(variant.summary) > 150  # One real paragraph for the app.


@pytest.mark.parametrize("name", variants.names())
def test_every_shipped_variant_has_an_idea_in_plain_words(name):
    """Home's cards open with `idea`: two sentences a first-time learner reads without the
    maths, which stays in `summary` (issue 27: "squared Frobenius norm of the Jacobian" was
    the first thing a newcomer met)."""
    idea = variants.get(name).idea
    assert 80 < len(idea) < 260 and idea.endswith(".")
    jargon = ("lambda", "beta", "rho", "*", "||", "KL", "Jacobian", "Frobenius", "ELBO", "loss")
    assert not [word for word in jargon if word in idea]


def test_the_deep_summary_names_the_shipped_models_epochs():
    deep = variants.get("deep")
    assert f"(the shipped model: {deep.training['epochs']} epochs)" in deep.summary


def test_unknown_variant_names_the_valid_ones():
    with pytest.raises(ValueError, match="vanilla, deep"):
        variants.get("transformer")


@pytest.mark.parametrize("name", variants.all_names())
def test_contract_shapes_and_halves(name):
    model = variants.build(name)
    out = np.asarray(model(IMAGES, training=False))
    assert out.shape == (3, 28, 28, 1) and out.dtype == np.float32
    assert isinstance(model.encoder, keras.Model) and isinstance(model.decoder, keras.Model)
    code = model.encoder(IMAGES)
    if name == "vae":
        z_mean, z_log_var = code
        assert z_mean.shape == (3, 2) and z_log_var.shape == (3, 2)
        decoded = np.asarray(model.decoder(z_mean))
        assert decoded.min() >= 0.0 and decoded.max() <= 1.0
        code = z_mean
    elif isinstance(code, (list, tuple)):  # A conditional VAE's: (style and class, log-var).
        assert code[0].shape == (3, 12) and code[1].shape == (3, 2)
        code = code[0]
    np.testing.assert_allclose(np.asarray(model.decoder(code)), out, atol=1e-6)


def test_architectures_are_the_ones_taught():
    assert variants.build("vanilla").encoder.output.shape[-1] == 32
    deep = variants.build("deep")
    widths = [layer.units for layer in deep.encoder.layers if hasattr(layer, "units")]
    assert widths == [128, 64, 32]
    assert tuple(variants.build("conv").encoder.output.shape[1:]) == (4, 4, 8)
    assert tuple(variants.build("denoising").encoder.output.shape[1:]) == (7, 7, 32)
    assert variants.build("vae").decoder.input.shape[-1] == 2


def test_tied_decoder_reuses_encoder_kernels_and_halves_parameters():
    tied, deep = variants.build("tied"), variants.build("deep")
    ratio = cards.count_parameters(tied) / cards.count_parameters(deep)
    assert 0.45 < ratio < 0.55
    transposes = [layer for layer in tied.decoder.layers if isinstance(layer, DenseTranspose)]
    assert len(transposes) == 3
    for layer in transposes:
        assert [weight.name for weight in layer.weights] == ["bias"]  # No kernel of its own.


@pytest.mark.parametrize("name", variants.all_names())
def test_save_load_round_trip(tmp_path, name):
    model = variants.build(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(
        np.asarray(loaded(IMAGES, training=False)),
        np.asarray(model(IMAGES, training=False)),
        atol=1e-6,
    )
    assert hasattr(loaded, "encoder") and hasattr(loaded, "decoder")


def test_loaded_tied_model_is_still_tied(tmp_path):
    path = tmp_path / "tied.keras"
    variants.build("tied").save(path)
    loaded = keras.models.load_model(path, compile=False)
    before = np.asarray(loaded.decoder(np.ones((1, 32), np.float32)))
    first = loaded.encoder.get_layer("encoder_dense_1")
    first.kernel.assign(first.kernel * 0.0)
    after = np.asarray(loaded.decoder(np.ones((1, 32), np.float32)))
    # The output layer multiplies by the first kernel's transpose: zeroing it shows up.
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, 0.5, atol=1e-6)  # sigmoid(0 + zero bias)


def test_pages_name_no_variant_in_a_condition():
    """Variants are data: pages render and measure any variant from its declaration, so no
    page compares a variant's name with a literal (`if name == "vae"`)."""
    import ast
    from pathlib import Path

    from core.ml import variants as registry

    names = set(registry.all_names())
    root = Path(__file__).resolve().parents[2]
    found = []
    for path in [*sorted((root / "pages").glob("*.py")), root / "core" / "evaluate.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                literals = [
                    part.value
                    for part in (node.left, *node.comparators)
                    if isinstance(part, ast.Constant) and part.value in names
                ]
                if literals:
                    found.append(f"{path.name}:{node.lineno} {literals}")
    assert found == []


def test_every_variant_declares_what_the_app_needs():
    from core.ml import choices
    from core.ml import variants as registry

    for name in registry.names():
        variant = registry.get(name)
        assert variant.code and "def build_model" in variant.code, name
        assert variant.curves and all(len(keys) == 2 for _, keys in variant.curves), name
        defaults = choices.defaults(name)
        for item in choices.for_variant(name):
            assert defaults[item.name] in item.choices, (name, item.name)


def test_reading_every_variant_loads_no_keras_or_tensorflow():
    """The web tier reads what a variant is (its title, settings, recipes, code) without Keras:
    in a fresh interpreter, every variant's declaration, its config and the Train page's
    catalogue leave keras and tensorflow unimported; only `build` loads them."""
    script = textwrap.dedent(
        """
        import dataclasses, json, sys
        import core.ml.variants as v
        from core.ml import choices
        for name in v.all_names():
            variant = v.get(name)
            for item in dataclasses.fields(variant):
                getattr(variant, item.name)
            for dataset in ("mnist", "fashion"):
                variant.recipe(dataset), variant.recipe_config(dataset)
            dataclasses.asdict(v.make_config(name))
            dataclasses.asdict(v.make_config(name, **variant.recipe_config("fashion")))
            choices.defaults(name), choices.for_variant(name), choices.live_note(name)
        choices.values_of({"train": {"epochs": 3}, "model": {"code_size": 8}})
        print(json.dumps([m for m in ("keras", "tensorflow") if m in sys.modules]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
