"""The code behind every run: each variant's standalone file builds the same architecture as
the lab (same parameter count), trains, evaluates on the test set and saves, using only Keras,
NumPy and the dataset loader, run here as a learner would run it: a separate Python process."""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest

from core.ml import cards, codegen, data, variants
from core.ml.training import TrainConfig


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    """5,500 training images (the file holds the last 5,000 out) and 300 test images."""
    (x_train, _), (x_test, _) = data.load_mnist()
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x_train=x_train[:5500], x_test=x_test[:300])
    return path


def run_script(source: str, folder, npz, *args) -> subprocess.CompletedProcess:
    script = folder / "model.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, str(script), "--epochs", "1", "--limit", "200", "--data", str(npz),
         "--out", str(folder / "model.weights.h5"), *args],
        capture_output=True, text=True, timeout=240, cwd=folder,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def run_file(source: str, folder, npz, *args) -> str:
    done = run_script(source, folder, npz, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def printed(output: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)}: ([0-9.e+-]+)$", output, re.MULTILINE)
    assert found, output
    return float(found.group(1))


@pytest.mark.slow
@pytest.mark.parametrize("name", variants.names())
def test_each_variants_file_trains_and_matches_the_labs_parameter_count(name, tmp_path, small_npz):
    source = codegen.for_shipped(name)
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"argparse", "time", "keras", "numpy"}, imported
    assert "core" not in source.split('"""', 2)[2]  # Nothing of the lab is imported.
    output = run_file(source, tmp_path, small_npz)
    card = cards.load_card(name)
    assert printed(output, "parameters") == card["parameters"]
    for metric in ("test BCE per pixel", "test MSE per pixel"):
        value = printed(output, metric)
        assert math.isfinite(value) and 0 < value < 1
    assert (tmp_path / "model.weights.h5").stat().st_size > 1000


def test_a_runs_file_has_the_runs_settings_and_its_dataset(tmp_path, small_npz):
    from core.ml.choices import settings_for
    from core.store import Store

    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    student, _ = store.new_student()
    config = TrainConfig(
        epochs=3, batch_size=64, learning_rate=0.01, subset=2000, dataset="fashion"
    )
    model_config = variants.make_config("deep", code_size=2)
    run_id = store.create_run(student, "deep", settings_for(config, model_config), 3)
    source = codegen.for_run(store.run(run_id))
    assert "keras.datasets.fashion_mnist.load_data()" in source
    assert f"from run {run_id} of the lab" in source
    namespace: dict = {}
    exec(compile(source.split("\n\ndef load_data")[0], "deep.py", "exec"), namespace)
    assert namespace["CONFIG"] == asdict(model_config)
    assert namespace["TRAINING"] == {
        "epochs": 3, "batch_size": 64, "learning_rate": 0.01, "subset": 2000, "seed": 0
    }  # fmt: skip
    output = run_file(source, tmp_path, small_npz)
    lab_model = variants.build("deep", model_config)
    assert printed(output, "parameters") == cards.count_parameters(lab_model)


def test_a_small_data_file_holds_out_a_tenth_and_trains_on_the_rest(tmp_path):
    """Issue 25: with 5,000 training images or fewer the file held out all of them and
    crashed (ZeroDivisionError on an empty training set). 600 images: 60 held out, and
    `--limit 200` of the other 540 trained on; fewer than 10: a message, not a traceback."""
    (x_train, _), (x_test, _) = data.load_mnist()
    tiny, too_few = tmp_path / "tiny.npz", tmp_path / "too_few.npz"
    np.savez(tiny, x_train=x_train[:600], x_test=x_test[:100])
    np.savez(too_few, x_train=x_train[:9], x_test=x_test[:100])
    source = codegen.for_shipped("vanilla")
    output = run_file(source, tmp_path, tiny)
    assert "200 training images, 60 held out for validation" in output
    assert 0 < printed(output, "test BCE per pixel") < 1
    refused = run_script(source, tmp_path, too_few)
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith(
        "--data holds 9 training image(s); at least 10 are needed (a tenth is held out for "
        "validation, the rest trains)"
    )


def test_the_command_line_prints_a_shipped_models_file(capsys):
    assert codegen.main(["vae", "--dataset", "fashion"]) == 0
    source = capsys.readouterr().out
    assert source.startswith('"""Variational (VAE) autoencoder on Fashion-MNIST')
    assert "fashion_mnist" in source
    ast.parse(source)
