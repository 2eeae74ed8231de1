"""The code behind every run: each variant's standalone file builds the same architecture as
the lab (same parameter count), trains, evaluates on the test set and saves, using only Keras,
NumPy and the dataset loader, run here as a learner would run it: outside the lab's process.

Every file this session's selected tests need runs in ONE separate Python process
(`generated_runs`): TensorFlow's import is most of a file's run, so 13 processes cost 13 of
them. Each file still runs as `__main__` with its own arguments, folder and globals, and the
process imports nothing of the lab.
"""

from __future__ import annotations

import ast
import json
import math
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from core.ml import cards, codegen, variants
from core.ml.training import TrainConfig

# Runs each job's file as `python FILE ARGS` would, in this one process: its own folder,
# argv and globals; its output, exit status and traceback kept apart from the next file's.
RUNNER = r"""
import contextlib, io, json, os, runpy, sys, traceback

jobs_file, results_file = sys.argv[1:3]
jobs, results = json.load(open(jobs_file)), {}
for job in jobs:
    os.chdir(job["folder"])
    sys.argv = [job["script"], *job["args"]]
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(job["script"], run_name="__main__")
        except SystemExit as exit:  # As the interpreter reports it: a message means 1.
            if isinstance(exit.code, str):
                print(exit.code, file=sys.stderr)
                code = 1
            else:
                code = exit.code or 0
        except BaseException:
            traceback.print_exc()
            code = 1
    if "keras" in sys.modules:  # The next file builds its model from a clean slate.
        sys.modules["keras"].backend.clear_session()
    results[job["key"]] = {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
json.dump(results, open(results_file, "w"))
"""


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory, mnist):
    """5,500 training images (the file holds the last 5,000 out) and 300 test images."""
    (x_train, _), (x_test, _) = mnist
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x_train=x_train[:5500], x_test=x_test[:300])
    return path


def run_source(tmp_path):
    """The file of a stored run (deep, 2-D code, Fashion-MNIST), from a store of its own;
    returns (source, run id, model config)."""
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
    store.close()
    return source, run_id, model_config


def small_data_files(folder, mnist):
    """600 training images (60 held out) and 9 (too few), each with 100 test images."""
    (x_train, _), (x_test, _) = mnist
    tiny, too_few = folder / "tiny.npz", folder / "too_few.npz"
    np.savez(tiny, x_train=x_train[:600], x_test=x_test[:100])
    np.savez(too_few, x_train=x_train[:9], x_test=x_test[:100])
    return tiny, too_few


def jobs_of(item, folder, small_npz, mnist) -> dict[str, tuple[str, object]]:
    """The files a selected test needs run: {key: (source, data file)}."""
    name = item.originalname
    if name == "test_each_variants_file_trains_and_matches_the_labs_parameter_count":
        variant = item.callspec.params["name"]
        return {f"variant:{variant}": (codegen.for_shipped(variant), small_npz)}
    if name == "test_a_runs_file_has_the_runs_settings_and_its_dataset":
        return {"run": (run_source(folder)[0], small_npz)}
    if name == "test_a_small_data_file_holds_out_a_tenth_and_trains_on_the_rest":
        tiny, too_few = small_data_files(folder, mnist)
        source = codegen.for_shipped("vanilla")
        return {"tiny": (source, tiny), "too few": (source, too_few)}
    return {}


@pytest.fixture(scope="module")
def generated_runs(request, tmp_path_factory, small_npz, mnist) -> dict[str, dict]:
    """Runs the files of every test of this module selected in this session, all in one
    subprocess; {key: {"returncode", "stdout", "stderr", "folder"}}."""
    base = tmp_path_factory.mktemp("generated")
    jobs = []
    for item in request.session.items:
        if getattr(item, "module", None) is not request.module:
            continue
        for key, (source, npz) in jobs_of(item, base, small_npz, mnist).items():
            folder = base / re.sub(r"\W", "-", key)
            folder.mkdir()
            (folder / "model.py").write_text(source)
            jobs.append(
                {
                    "key": key,
                    "folder": str(folder),
                    "script": str(folder / "model.py"),
                    "args": ["--epochs", "1", "--limit", "200", "--data", str(npz),
                             "--out", str(folder / "model.weights.h5")],
                }
            )  # fmt: skip
    (base / "jobs.json").write_text(json.dumps(jobs))
    (base / "runner.py").write_text(RUNNER)
    done = subprocess.run(
        [sys.executable, str(base / "runner.py"), str(base / "jobs.json"), str(base / "out.json")],
        capture_output=True, text=True, timeout=120 + 60 * len(jobs), cwd=base,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((base / "out.json").read_text())
    for job in jobs:
        results[job["key"]]["folder"] = job["folder"]
    return results


def outcome(generated_runs, key: str) -> dict:
    assert key in generated_runs, f"{key} was not run: {sorted(generated_runs)}"
    return generated_runs[key]


def run_file(generated_runs, key: str) -> str:
    done = outcome(generated_runs, key)
    assert done["returncode"] == 0, done["stderr"][-3000:]
    return done["stdout"]


def printed(output: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)}: ([0-9.e+-]+)$", output, re.MULTILINE)
    assert found, output
    return float(found.group(1))


def test_the_runner_reports_each_files_failure_apart():
    """The runner itself: a file that raises, exits with a message or runs fine is reported
    as Python would report it, and one file's failure does not stop the next."""
    import tempfile

    with tempfile.TemporaryDirectory() as temporary:
        base = Path(temporary)
        sources = {
            "raises": "raise ValueError('broken file')",
            "refuses": "raise SystemExit('not enough data')",
            "works": "import sys; print('argv', sys.argv[1:])",
        }
        jobs = []
        for key, source in sources.items():
            (base / f"{key}.py").write_text(source)
            jobs.append(
                {"key": key, "folder": temporary, "script": str(base / f"{key}.py"), "args": ["-x"]}
            )
        (base / "jobs.json").write_text(json.dumps(jobs))
        (base / "runner.py").write_text(RUNNER)
        subprocess.run(
            [sys.executable, "runner.py", "jobs.json", "out.json"], cwd=base, check=True, timeout=60
        )
        results = json.loads((base / "out.json").read_text())
    assert results["raises"]["returncode"] == 1
    assert "ValueError: broken file" in results["raises"]["stderr"]
    assert results["refuses"]["returncode"] == 1
    assert results["refuses"]["stderr"].strip() == "not enough data"
    assert results["works"] == {"returncode": 0, "stdout": "argv ['-x']\n", "stderr": ""}


@pytest.mark.slow
@pytest.mark.parametrize("name", variants.names())
def test_each_variants_file_trains_and_matches_the_labs_parameter_count(name, generated_runs):
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
    output = run_file(generated_runs, f"variant:{name}")
    card = cards.load_card(name)
    assert printed(output, "parameters") == card["parameters"]
    for metric in ("test BCE per pixel", "test MSE per pixel"):
        value = printed(output, metric)
        assert math.isfinite(value) and 0 < value < 1
    folder = outcome(generated_runs, f"variant:{name}")["folder"]
    assert (Path(folder) / "model.weights.h5").stat().st_size > 1000


@pytest.mark.slow
def test_a_runs_file_has_the_runs_settings_and_its_dataset(tmp_path, generated_runs):
    source, run_id, model_config = run_source(tmp_path)
    assert "keras.datasets.fashion_mnist.load_data()" in source
    assert f"from run {run_id} of the lab" in source
    namespace: dict = {}
    exec(compile(source.split("\n\ndef load_data")[0], "deep.py", "exec"), namespace)
    assert namespace["CONFIG"] == asdict(model_config)
    assert namespace["TRAINING"] == {
        "epochs": 3, "batch_size": 64, "learning_rate": 0.01, "subset": 2000, "seed": 0
    }  # fmt: skip
    output = run_file(generated_runs, "run")
    lab_model = variants.build("deep", model_config)
    assert printed(output, "parameters") == cards.count_parameters(lab_model)


@pytest.mark.slow
def test_a_small_data_file_holds_out_a_tenth_and_trains_on_the_rest(generated_runs):
    """Issue 25: with 5,000 training images or fewer the file held out all of them and
    crashed (ZeroDivisionError on an empty training set). 600 images: 60 held out, and
    `--limit 200` of the other 540 trained on; fewer than 10: a message, not a traceback."""
    output = run_file(generated_runs, "tiny")
    assert "200 training images, 60 held out for validation" in output
    assert 0 < printed(output, "test BCE per pixel") < 1
    refused = outcome(generated_runs, "too few")
    assert refused["returncode"] == 1
    assert (
        refused["stderr"]
        .strip()
        .endswith(
            "--data holds 9 training image(s); at least 10 are needed (a tenth is held out for "
            "validation, the rest trains)"
        )
    )


def test_the_command_line_prints_a_shipped_models_file(capsys):
    assert codegen.main(["vae", "--dataset", "fashion"]) == 0
    source = capsys.readouterr().out
    assert source.startswith('"""Variational (VAE) autoencoder on Fashion-MNIST')
    assert "fashion_mnist" in source
    ast.parse(source)
