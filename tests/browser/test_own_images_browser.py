"""Chromium: a folder of one's own images uploaded as a zip, both recipes previewed, kept,
trained on, and its reconstructions shown; its data downloaded as the .npz it was kept as. Then
every page on it: chosen in the sidebar, raced, drawn on Draw, compared, and its run's code run
on the downloaded data reproduces a run."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests.support.browser import (
    choose_in_sidebar,
    download,
    no_exceptions,
    open_page,
    set_slider_to_minimum,
    wait_idle,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def shapes_zip(path) -> None:
    """300 drawings in three labelled folders, dark ink on white paper, as a phone photo of
    paper would be (the lab inverts them)."""
    rng = np.random.default_rng(1)
    with zipfile.ZipFile(path, "w") as archive:
        for label in ("circle", "cross", "bar"):
            for index in range(100):
                image = Image.new("L", (64, 64), 255)
                pen = ImageDraw.Draw(image)
                x, y, r = (int(v) for v in (*rng.integers(20, 44, 2), rng.integers(8, 19)))
                width = int(rng.integers(2, 8))
                if label == "circle":
                    pen.ellipse((x - r, y - r, x + r, y + r), outline=0, width=width)
                elif label == "cross":
                    pen.line((x - r, y - r, x + r, y + r), fill=0, width=width)
                    pen.line((x - r, y + r, x + r, y - r), fill=0, width=width)
                else:
                    pen.line((x, y - r, x + int(rng.integers(-6, 7)), y + r), fill=0, width=width)
                out = io.BytesIO()
                image.save(out, "PNG")
                archive.writestr(f"shapes/{label}/{index}.png", out.getvalue())


def test_upload_keep_train_and_download(app_server, page, artifacts, tmp_path):
    upload = tmp_path / "shapes.zip"
    shapes_zip(upload)
    open_page(page, f"{app_server}/images")
    page.locator("input[type=file]").set_input_files(str(upload))
    page.wait_for_selector("text=2. Choose how to prepare them", timeout=60_000)
    wait_idle(page)
    read = page.locator("[data-testid=stMarkdownContainer]", has_text="images read").first
    assert read.inner_text() == "300 images read in 3 labelled folders: bar, circle, cross."
    # Both recipes' previews, side by side.
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stImage]').length === 2", timeout=30_000
    )
    page.get_by_role("button", name="Prepare and keep it").click()
    page.wait_for_selector("text=Train on it", timeout=60_000)
    wait_idle(page)
    no_exceptions(page)
    summary = page.locator("[data-testid=stMarkdownContainer]", has_text="3 classes").first
    kept = int(re.search(r"· ([0-9,]+) images ·", summary.inner_text()).group(1))
    assert 100 <= kept <= 300, summary.inner_text()  # Duplicates after preparing are dropped.
    page.screenshot(path=str(artifacts / "images-kept-1280.png"))

    got = download(page, "Get the data (.npz)")
    path = tmp_path / got.suggested_filename
    got.save_as(path)
    assert re.fullmatch(r"own-[0-9]+\.npz", path.name)
    with np.load(path, allow_pickle=False) as found:
        total = sum(len(found[key]) for key in ("x_train", "x_val", "x_test"))
        assert total == kept and found["x_train"].dtype == np.uint8
        assert set(np.unique(found["y_train"])) == {0, 1, 2}

    page.get_by_role("button", name="Train on it").click()
    page.wait_for_selector("text=Eight of its test images", timeout=240_000)
    wait_idle(page)
    no_exceptions(page)
    line = page.locator("[data-testid=stMarkdownContainer]", has_text="Run ").last.inner_text()
    assert "Vanilla" in line and "BCE" in line, line
    page.screenshot(path=str(artifacts / "images-trained-1280.png"))

    # Every page on it: the sidebar's Dataset lists it by its name.
    choose_in_sidebar(page, "Dataset", "shapes")
    page.get_by_role("link", name="Race").click()
    page.wait_for_selector("text=Start the race", timeout=60_000)
    wait_idle(page)
    set_slider_to_minimum(page, "Epochs")
    page.get_by_role("button", name="Start the race").click()
    page.wait_for_selector("text=Test metrics", timeout=300_000)
    wait_idle(page)
    no_exceptions(page)
    lines = page.locator("[data-testid=stMarkdownContainer]", has_text=re.compile("· run [0-9]+ ·"))
    expect(lines).to_have_count(3, timeout=30_000)
    assert "finished" in lines.first.inner_text()
    page.screenshot(path=str(artifacts / "images-race-1280.png"), full_page=True)

    page.get_by_role("link", name="Draw").click()
    page.wait_for_selector("h1:has-text('Reconstruct a picture')", timeout=60_000)
    page.wait_for_selector("text=MSE per pixel", timeout=60_000)
    wait_idle(page)
    no_exceptions(page)
    expect(page.get_by_text("Your other runs on the same input")).to_have_count(1, timeout=30_000)
    expect(
        page.get_by_text(re.compile(r"^Test image #[0-9]+, labelled (bar|circle|cross)$")).first
    ).to_be_visible(timeout=30_000)
    page.screenshot(path=str(artifacts / "images-draw-1280.png"), full_page=True)

    page.get_by_role("link", name="Compare").click()
    page.wait_for_selector("text=Your finished runs on shapes", timeout=60_000)
    wait_idle(page)
    no_exceptions(page)
    page.screenshot(path=str(artifacts / "images-compare-1280.png"), full_page=True)

    # The vanilla run's file, run on the downloaded data, trains and measures a model.
    page.get_by_role("link", name="Train").click()
    page.wait_for_selector("text=Get the code", timeout=60_000)
    wait_idle(page)
    got = download(page, "Get the code")
    code = tmp_path / got.suggested_filename
    got.save_as(code)
    done = subprocess.run(
        [
            sys.executable,
            str(code),
            "--data",
            str(path),
            "--epochs",
            "1",
            "--out",
            "run.weights.h5",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    bce = float(re.search(r"test BCE per pixel: ([0-9.]+)", done.stdout).group(1))
    assert 0 < bce < 1, done.stdout
