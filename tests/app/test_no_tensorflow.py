"""The app server never imports TensorFlow or Keras (issue 28): every page, on both datasets,
with the shipped models and with a student's run, is served by ONNX Runtime and NumPy."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core.ml import variants
from tests.support.no_tensorflow import VIEWS
from tests.support.servers import ROOT


@pytest.mark.slow
def test_no_page_imports_tensorflow_or_keras(lab_store, stored_run):
    spec = []
    for dataset, name in (("mnist", "vanilla"), ("fashion", "vae")):
        model = variants.build(name)
        model(np.zeros((1, 28, 28, 1), np.float32))
        token, run = stored_run(name, model, variants.make_config(name), dataset=dataset)
        spec.append({"dataset": dataset, "token": token, "run": run.id, "variant": name})
    visited = subprocess.run(
        [sys.executable, "-m", "tests.support.no_tensorflow", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert visited.returncode == 0, visited.stderr[-4000:]
    report = json.loads(visited.stdout.strip().splitlines()[-1])
    assert len(report["views"]) == len(spec) * sum(len(views) for views in VIEWS.values()) + 1
    assert report["views"][-1]["page"] == "pages/train.py (Train pressed)"
    for view in report["views"]:
        assert not view["exceptions"], view
    assert report["heavy_count"] == 0, report["heavy_modules"]
