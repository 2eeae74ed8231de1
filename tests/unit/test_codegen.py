"""The code behind every run: each variant's standalone file builds the same architecture as
the lab (same parameter count), trains, evaluates on the test set and saves, using only Keras,
NumPy and the dataset loader, run here as a learner would run it: outside the lab's process.

Every file this session's selected tests need runs in ONE separate Python process
(`generated_runs`): TensorFlow's import is most of a file's run, so 13 processes cost 13 of
them. Each file still runs as `__main__` with its own arguments, folder, globals and extra
environment, and the process imports nothing of the lab. That process has no internet: its
proxy is a closed port and Keras's own cache is an empty folder, so a file that needs no
download proves it, and one that tries fails as it would offline.
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import re
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from core.ml import cards, choices, codegen, data, variants
from core.ml.training import TrainConfig
from tests.support.images import bar_pngs

# Runs each job's file as `python FILE ARGS` would, in this one process: its own folder,
# argv and globals; its output, exit status and traceback kept apart from the next file's.
RUNNERS = 2  # Subprocesses the module's files are shared between.
RUNNER = r"""
import contextlib, io, json, os, runpy, sys, traceback

jobs_file, results_file = sys.argv[1:3]
jobs, results = json.load(open(jobs_file)), {}
for job in jobs:
    os.chdir(job["folder"])
    sys.argv = [job["script"], *job["args"]]
    saved = {name: os.environ.get(name) for name in job.get("env", {})}
    os.environ.update(job.get("env", {}))
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
    for name, value in saved.items():  # The next file sees the process's own environment.
        if value is None:
            os.environ.pop(name)
        else:
            os.environ[name] = value
    if "keras" in sys.modules:  # The next file builds its model from a clean slate.
        sys.modules["keras"].backend.clear_session()
    results[job["key"]] = {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
json.dump(results, open(results_file, "w"))
"""


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory, mnist):
    """5,500 training images and their labels (the file holds the last 5,000 out: a
    conditional model trains on labels too) and 300 test images."""
    (x_train, y_train), (x_test, _) = mnist
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x_train=x_train[:5500], y_train=y_train[:5500], x_test=x_test[:300])
    return path


def stored_run(tmp_path):
    """A stored run (deep, 2-D code, Fashion-MNIST), from a store of its own; returns (the
    run's record, model config)."""
    from core.ml.choices import settings_for
    from core.store import Store

    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    student, _ = store.new_student()
    config = TrainConfig(
        epochs=3, batch_size=64, learning_rate=0.01, subset=2000, dataset="fashion"
    )
    model_config = variants.make_config("deep", code_size=2)
    run_id = store.create_run(student, "deep", settings_for(config, model_config), 3)
    run = store.run(run_id)
    store.close()
    return run, model_config


def run_source(tmp_path):
    """The file of a stored run (`stored_run`); returns (source, run id, model config)."""
    run, model_config = stored_run(tmp_path)
    return codegen.for_run(run), run.id, model_config


def small_data_files(folder, mnist):
    """600 training images (60 held out) and 9 (too few), each with 100 test images."""
    (x_train, _), (x_test, _) = mnist
    tiny, too_few = folder / "tiny.npz", folder / "too_few.npz"
    np.savez(tiny, x_train=x_train[:600], x_test=x_test[:100])
    np.savez(too_few, x_train=x_train[:9], x_test=x_test[:100])
    return tiny, too_few


def odd_source() -> str:
    """The file of a vanilla run that left the 1s out of training."""
    values = {**choices.defaults("vanilla"), "odd": [1]}
    train, model = choices.configs("vanilla", values)
    return codegen.source_for("vanilla", asdict(model), asdict(train), "run 7", "vanilla_run7.py")


def odd_jobs(folder, mnist) -> dict:
    """An odd-one-out run's file on 600 labelled images, and on the same without labels."""
    (x_train, y_train), (x_test, _) = mnist
    labelled, unlabelled = folder / "labelled.npz", folder / "unlabelled.npz"
    np.savez(labelled, x_train=x_train[:600], y_train=y_train[:600], x_test=x_test[:100])
    np.savez(unlabelled, x_train=x_train[:600], x_test=x_test[:100])
    return {"odd": (odd_source(), labelled, {}), "odd unlabelled": (odd_source(), unlabelled, {})}


def upload_jobs(folder) -> dict:
    """The file of a run on an upload of one's own (a store of its own), given its data as
    "Get the data (.npz)" downloads it, and the same file with none."""
    from core.ml import own_images
    from core.store import Owner, Store

    store = Store(f"sqlite:///{folder / 'uploads.sqlite'}")
    student, _ = store.new_student()
    files = bar_pngs(150)
    prepared = own_images.prepare(own_images.read_upload(files), "resize", seed=0)
    # A name that would break (or run inside) Python source if it were pasted into it.
    title = 'bars""" + __import__("os").getcwd() + """ {1/0} "q\\'
    name = data.own_name(store.add_dataset(Owner(student_id=student), title, prepared))
    data.use_store(store)
    try:
        train, model = choices.configs("vanilla", {"epochs": 1}, name)
        source = codegen.source_for("vanilla", asdict(model), asdict(train), "run 9")
        downloaded = folder / "downloads"
        downloaded.mkdir(exist_ok=True)
        npz = downloaded / codegen.data_file_name(name)
        npz.write_bytes(prepared.npz())
    finally:
        data.use_store(None)
        store.close()
    (folder / "upload-counts.json").write_text(
        json.dumps({"name": name, "train": len(prepared.x_train), "val": len(prepared.x_val)})
    )
    return {"upload": (source, npz, {}), "upload alone": (source, None, {})}


def closed_port() -> int:
    """A local port nothing listens on: a proxy there refuses every connection at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def lab_environment() -> dict[str, str]:
    """The variables by which the lab finds its data cache, as this process (the lab) has them:
    a file run with them runs where the lab ran."""
    names = ("HOME", "XDG_CACHE_HOME", "LOCALAPPDATA", "AE_CACHE_DIR", "AE_FASHION_DIR")
    return {name: os.environ[name] for name in names if name in os.environ}


def jobs_of(item, folder, small_npz, mnist) -> dict[str, tuple[str, object, dict]]:
    """The files a selected test needs run: {key: (source, data file or None, environment)}."""
    name = item.originalname
    if name == "test_each_variants_file_trains_and_matches_the_labs_parameter_count":
        variant = item.callspec.params["name"]
        return {f"variant:{variant}": (codegen.for_shipped(variant), small_npz, {})}
    if name == "test_a_runs_file_has_the_runs_settings_and_its_dataset":
        return {"run": (run_source(folder)[0], small_npz, {})}
    if name == "test_a_small_data_file_holds_out_a_tenth_and_trains_on_the_rest":
        tiny, too_few = small_data_files(folder, mnist)
        source = codegen.for_shipped("vanilla")
        return {"tiny": (source, tiny, {}), "too few": (source, too_few, {})}
    if name == "test_an_odd_one_out_runs_file_leaves_its_labels_out":
        return odd_jobs(folder, mnist)
    if name == "test_an_uploads_file_trains_on_its_downloaded_data_as_the_lab_split_it":
        return upload_jobs(folder)
    if name == "test_offline_without_data_the_file_trains_on_the_labs_copy":
        return {"offline": (codegen.for_shipped("vanilla"), None, lab_environment())}
    if name == "test_with_no_copy_and_no_internet_the_file_says_how_to_get_the_images":
        empty = folder / "empty"
        empty.mkdir(exist_ok=True)
        hidden = {"AE_CACHE_DIR": str(empty), "AE_FASHION_DIR": str(empty)}
        return {"nowhere": (codegen.for_shipped("deep", "fashion"), None, hidden)}
    if name == "test_the_data_download_round_trips_through_data":
        path = folder / codegen.data_file_name("mnist")
        path.write_bytes(codegen.data_npz("mnist"))
        return {"npz": (codegen.for_shipped("vanilla"), path, {})}
    return {}


@pytest.fixture(scope="module")
def generated_runs(request, tmp_path_factory, small_npz, mnist) -> dict[str, dict]:
    """Runs the files of every test of this module selected in this session, all in one
    subprocess; {key: {"returncode", "stdout", "stderr", "folder", "data"}}."""
    base = tmp_path_factory.mktemp("generated")
    keras_home = base / "keras-home"  # Keras's own dataset cache: empty, so it hides nothing.
    keras_home.mkdir()
    jobs = []
    for item in request.session.items:
        if getattr(item, "module", None) is not request.module:
            continue
        for key, (source, npz, env) in jobs_of(item, base, small_npz, mnist).items():
            folder = base / re.sub(r"\W", "-", key)
            folder.mkdir()
            (folder / "model.py").write_text(source)
            given = ["--data", str(npz)] if npz else []
            jobs.append(
                {
                    "key": key,
                    "folder": str(folder),
                    "script": str(folder / "model.py"),
                    "args": ["--epochs", "1", "--limit", "200", *given,
                             "--out", str(folder / "model.weights.h5")],
                    "env": env,
                    "data": str(npz) if npz else None,
                }
            )  # fmt: skip
    (base / "runner.py").write_text(RUNNER)
    proxy = f"http://127.0.0.1:{closed_port()}"  # No internet: every download is refused.
    # Two runners, each with half the files: a file's tiny fit is mostly Python (building,
    # tracing), one core's work, so two at once take about half the time on two cores.
    runners = []
    for half in range(RUNNERS):
        (base / f"jobs{half}.json").write_text(json.dumps(jobs[half::RUNNERS]))
        runners.append(subprocess.Popen(
            [sys.executable, str(base / "runner.py"), str(base / f"jobs{half}.json"),
             str(base / f"out{half}.json")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=base,
            env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin",
                 "KERAS_HOME": str(keras_home),
                 **dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"),
                                 proxy)},
        ))  # fmt: skip
    results = {}
    for half, runner in enumerate(runners):
        _, stderr = runner.communicate(timeout=120 + 60 * len(jobs))
        assert runner.returncode == 0, stderr[-3000:]
        results.update(json.loads((base / f"out{half}.json").read_text()))
    for job in jobs:
        results[job["key"]].update(folder=job["folder"], data=job["data"])
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
    # Keras, NumPy and the standard library only (os, gzip ... find the lab's copy of the data).
    standard = {"argparse", "gzip", "importlib", "os", "sys", "textwrap", "time"}
    assert imported <= {"keras", "numpy", *standard}, imported
    assert imported - {"keras", "numpy"} <= sys.stdlib_module_names
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
            "--data holds 9 training images; at least 10 are needed (a tenth is held out for "
            "validation, the rest trains)"
        )
    )


def test_an_odd_one_out_runs_file_leaves_its_labels_out(generated_runs, mnist):
    """The file of a run that never saw the 1s trains and validates without them, as the lab
    did (the test images keep every label); without labels it says what it needs."""
    (_, y_train), _ = mnist
    assert "TRAINING = {" in odd_source() and '"odd": [1]' in odd_source()
    held_out = int((y_train[540:600] != 1).sum())  # The last 60 of 600, less their 1s.
    assert held_out < 60
    output = run_file(generated_runs, "odd")
    assert f"200 training images, {held_out} held out for validation" in output
    assert 0 < printed(output, "test BCE per pixel") < 1
    refused = outcome(generated_runs, "odd unlabelled")
    assert refused["returncode"] == 1
    assert "leaves the labels [1] out of training and needs the labels y_train" in refused["stderr"]
    # An ordinary run's file has no trace of it.
    assert '"odd"' not in codegen.for_shipped("vanilla") and "np.isin" not in codegen.for_shipped(
        "vanilla"
    )


def test_an_uploads_file_trains_on_its_downloaded_data_as_the_lab_split_it(generated_runs):
    """A run on one's own images: its file reads the downloaded "Get the data" file, holds out
    exactly the lab's validation images, and without it says where to get it (nothing
    downloads an upload)."""
    done = outcome(generated_runs, "upload")
    counts = json.loads((Path(done["folder"]).parent / "upload-counts.json").read_text())
    output = run_file(generated_runs, "upload")
    assert f"{counts['train']:,} training images, {counts['val']:,} held out" in output
    assert 0 < printed(output, "test BCE per pixel") < 1
    refused = outcome(generated_runs, "upload alone")
    message = " ".join(refused["stderr"].split())
    assert refused["returncode"] == 1 and "Traceback" not in refused["stderr"]
    assert "not on this machine, and nothing downloads it" in message
    assert f"gives one as {counts['name']}.npz" in message and message.endswith("--data).")
    # The uploader's name is nowhere in the file: it is named by its id.
    assert f"images uploaded to the lab ({counts['name']})" in message
    assert "getcwd" not in Path(done["folder"], "model.py").read_text()


def test_the_command_line_prints_a_shipped_models_file(capsys):
    from core.codegen import main

    assert main(["vae", "--dataset", "fashion"]) == 0
    source = capsys.readouterr().out
    assert source.startswith('"""Variational (VAE) autoencoder on Fashion-MNIST')
    assert "fashion_mnist" in source
    ast.parse(source)


@pytest.mark.slow
def test_offline_without_data_the_file_trains_on_the_labs_copy(generated_runs, mnist):
    """Issue 27: without --data the file called Keras's downloader, which fails offline with a
    traceback, though the lab had the images on this machine. Now it reads the lab's copy,
    found as the lab finds it, and never tries a download (the process has no internet)."""
    output = run_file(generated_runs, "offline")
    cache = data.cache_dir() / data.CACHE_NAME
    if cache.is_file():
        assert f"images from {cache} (the lab's cache)" in output
    else:  # A read-only cache folder: the lab read its MNIST package each time.
        assert "(the lab's MNIST package)" in output
    assert "Downloading data" not in output
    assert "200 training images, 5,000 held out for validation" in output
    for metric in ("test BCE per pixel", "test MSE per pixel"):
        assert 0 < printed(output, metric) < 1


@pytest.mark.slow
def test_with_no_copy_and_no_internet_the_file_says_how_to_get_the_images(generated_runs):
    refused = outcome(generated_runs, "nowhere")
    assert refused["returncode"] == 1
    assert "Traceback" not in refused["stderr"]
    message = " ".join(refused["stderr"].split())
    empty = Path(generated_runs["nowhere"]["folder"]).parent / "empty"
    assert message.startswith(
        "Fashion-MNIST: not on this machine, and Keras's downloader failed (URL fetch failure"
    ), message
    for tried in (
        f"{generated_runs['nowhere']['folder']}/fashion-mnist.npz (beside this file)",
        f"{empty} (Debian's dataset-fashion-mnist)",
        f"{empty}/fashion-v{data.CACHE_VERSION}.npz (the lab's cache)",
    ):
        assert tried in message
    assert "Pass the images with --data FILE.npz" in message
    assert '"Get the data (.npz)" button, beside "Get the code", gives one as fashion-mnist' in (
        message
    )
    assert message.endswith(
        'numpy.savez_compressed("fashion-mnist.npz", x_train=x_train, x_test=x_test) makes one.'
    )


@pytest.mark.slow
def test_the_data_download_round_trips_through_data(generated_runs, mnist):
    """ "Get the data (.npz)" holds the images as the lab loads them, and the file trains on
    it given with --data."""
    output = run_file(generated_runs, "npz")
    assert "images from" not in output  # --data wins over any copy on the machine.
    assert "55,000 training images" not in output and "200 training images" in output
    assert 0 < printed(output, "test BCE per pixel") < 1
    (x_train, y_train), (x_test, y_test) = mnist  # As the lab loads it.
    with np.load(generated_runs["npz"]["data"], allow_pickle=False) as found:
        assert sorted(found.files) == ["x_test", "x_train", "y_test", "y_train"]
        for name, expected in (("x_train", x_train), ("x_test", x_test), ("y_train", y_train),
                               ("y_test", y_test)):  # fmt: skip
            assert found[name].dtype == np.uint8
            np.testing.assert_array_equal(found[name], expected)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)


def load_generated(source: str, path: Path) -> dict:
    """The generated file's functions, as if saved at `path` and imported (main() not run)."""
    namespace = {"__file__": str(path), "__name__": "generated"}
    exec(compile(source, str(path), "exec"), namespace)
    return namespace


def test_the_file_looks_where_the_lab_keeps_its_data(tmp_path, monkeypatch):
    """The file finds the lab's copies by the same paths and settings as core.ml.data, without
    importing the lab: the cache folder under each way of setting it, MNIST's package and
    Debian's Fashion-MNIST folder."""
    import importlib.util

    mnist_file = load_generated(codegen.for_shipped("vanilla"), tmp_path / "vanilla.py")
    fashion_file = load_generated(codegen.for_shipped("deep", "fashion"), tmp_path / "deep.py")
    for name in ("AE_CACHE_DIR", "XDG_CACHE_HOME", "AE_FASHION_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for setting, value in (("XDG_CACHE_HOME", "xdg"), ("AE_CACHE_DIR", "lab-cache")):
        assert mnist_file["lab_cache_dir"]() == str(data.cache_dir())
        monkeypatch.setenv(setting, str(tmp_path / value))
    assert mnist_file["lab_cache_dir"]() == str(data.cache_dir()) == str(tmp_path / "lab-cache")

    spec = importlib.util.find_spec(data.MNIST_PACKAGE)
    package = Path(next(iter(spec.submodule_search_locations))) / "data" if spec else None
    assert [place for _, place, _ in mnist_file["local_copies"]()] == [
        str(tmp_path / "mnist.npz"),
        str(data.cache_dir() / data.CACHE_NAME),
        str(package) if package else f"the {data.MNIST_PACKAGE} package (not installed)",
    ]
    fashion_cache = str(data.cache_dir() / f"fashion-v{data.CACHE_VERSION}.npz")
    assert [place for _, place, _ in fashion_file["local_copies"]()] == [
        str(tmp_path / "fashion-mnist.npz"),
        str(data.FASHION_DIR),
        fashion_cache,
    ]
    monkeypatch.setenv("AE_FASHION_DIR", str(tmp_path / "debian"))
    assert [place for _, place, _ in fashion_file["local_copies"]()][1] == str(tmp_path / "debian")


def test_the_data_file_beside_the_code_is_found_first(tmp_path, monkeypatch, capsys):
    """Downloaded into one folder, the code and its data run without --data anywhere."""
    monkeypatch.setenv("AE_CACHE_DIR", str(tmp_path / "no-cache"))
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=images, x_test=images[:1])
    (tmp_path / codegen.data_file_name("mnist")).write_bytes(buffer.getvalue())
    generated = load_generated(codegen.for_shipped("vanilla"), tmp_path / "vanilla_run5.py")
    x_train, y_train, x_test, held_out = generated["load_data"](None)
    assert y_train is None  # This file has no labels: only an odd-one-out run needs them.
    assert held_out is None  # Nor its own validation images: the file holds out a share.
    np.testing.assert_array_equal(x_train, images)
    np.testing.assert_array_equal(x_test, images[:1])
    assert f"images from {tmp_path / 'mnist.npz'} (beside this file)" in capsys.readouterr().out


def test_the_files_run_line_names_the_file_it_downloads_as(tmp_path):
    """Issue 27: a run's file downloaded as linear_run5.py but said "python linear.py"."""
    run, _ = stored_run(tmp_path)
    source = codegen.for_run(run)
    assert codegen.run_file_name(run) == f"deep_run{run.id}.py"  # What the Train page gives.
    assert f"Run it:   python deep_run{run.id}.py [" in source
    assert f'default="deep_run{run.id}.weights.h5"' in source  # Its weights, named alike.
    for name, dataset, expected in (
        ("vae", "mnist", "vae.py"),
        ("vae", "fashion", "vae_fashion.py"),
    ):
        assert codegen.shipped_file_name(name, dataset) == expected
        assert f"Run it:   python {expected} [" in codegen.for_shipped(name, dataset)
    assert codegen.data_file_name("mnist") == "mnist.npz"
    assert codegen.data_file_name("fashion") == "fashion-mnist.npz"


def test_each_reader_of_the_labs_copies_gives_images_labels_and_no_split(tmp_path):
    """Every place a file finds images gives the same four things (issue 30's files read the
    labels too): MNIST's CSV package folder and Debian's Fashion-MNIST idx files."""
    import gzip

    mnist_file = load_generated(codegen.for_shipped("vanilla"), tmp_path / "vanilla.py")
    fashion_file = load_generated(codegen.for_shipped("deep", "fashion"), tmp_path / "deep.py")
    rows = np.arange(3 * 785).reshape(3, 785) % 256
    rows[:, 0] = [7, 1, 4]
    for split in ("train", "test"):
        np.savetxt(tmp_path / f"mnist_{split}.csv", rows, fmt="%d", delimiter=",", header="h")
    x_train, y_train, x_test, held_out = mnist_file["read_csv_folder"](str(tmp_path))
    assert x_train.shape == (3, 28, 28) and list(y_train) == [7, 1, 4] and held_out is None
    assert np.array_equal(x_train[1].ravel(), rows[1, 1:])
    images = np.arange(2 * 784, dtype=np.uint8).reshape(2, 28, 28)
    for prefix, count in (("train", 2), ("t10k", 1)):
        with gzip.open(tmp_path / f"{prefix}-images-idx3-ubyte.gz", "wb") as out:
            out.write(b"\0" * 16 + images[:count].tobytes())
        with gzip.open(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", "wb") as out:
            out.write(b"\0" * 8 + bytes([9, 3][:count]))
    x_train, y_train, x_test, held_out = fashion_file["read_idx_folder"](str(tmp_path))
    assert np.array_equal(x_train, images) and list(y_train) == [9, 3] and held_out is None
    assert np.array_equal(x_test, images[:1])
