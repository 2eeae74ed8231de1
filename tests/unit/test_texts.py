"""Sentences true to their numbers (issue 27): counts with the right noun, a minus sign that
stays on its word, a sparse-codes headline chosen from the measured shares, and one colour per
class on every class plot."""

from __future__ import annotations

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui import palette, words


@pytest.mark.parametrize(
    ("number", "expected"),
    [(0, "0 epochs"), (1, "1 epoch"), (2, "2 epochs"), (5, "5 epochs"), (1000, "1,000 epochs")],
)
def test_count_puts_the_noun_in_the_right_form(number, expected):
    assert words.count(number, "epoch") == expected


def test_count_takes_an_irregular_plural():
    assert words.count(1, "class", "classes") == "1 class"
    assert words.count(3, "class", "classes") == "3 classes"


def test_negative_elbo_keeps_its_minus_sign_on_the_word():
    line = words.metric_line({"negative_elbo": 164.2, "bce": 0.1, "bce_floor": 0.058})
    # A true minus sign (U+2212) joined to ELBO by a word joiner (U+2060): no line break
    # between them. A hyphen-minus allows one, and "Test set: -" ended a line.
    assert line.startswith("\u2212\u2060ELBO 164.2 nats")
    assert "-ELBO" not in line
    assert re.search(r"\u2212\s", line) is None


# The sparse-codes headline: "most" only over half, and a penalty that switches off no more
# units than none is said so. Both sides of each threshold.
@pytest.mark.parametrize(
    ("penalised", "plain", "expected"),
    [
        # The shipped MNIST models: 13% with either penalty, 1% without.
        (
            [0.13, 0.131],
            0.01,
            "Sparse codes: 13% of units off for a digit, against 1% without the penalty",
        ),
        (
            [0.5, 0.9],
            0.01,
            "Sparse codes: 50% to 90% of units off for a digit, against 1% without the penalty",
        ),
        (
            [0.51, 0.9],
            0.01,
            "Sparse codes: most units (51% to 90%) off for a digit, against 1% without the penalty",
        ),
        (
            [0.2, 0.3],
            0.3,
            "Sparse codes: no more units off with the penalty (20% to 30%) than without (30%)",
        ),
        (
            [0.2, 0.31],
            0.3,
            "Sparse codes: 20% to 31% of units off for a digit, against 30% without the penalty",
        ),
    ],
)
def test_sparse_headline_follows_the_measured_shares(penalised, plain, expected):
    assert words.sparse_headline(penalised, plain) == expected


def test_sparse_headline_names_the_datasets_images():
    assert "off for a garment" in words.sparse_headline([0.4, 0.55], 0.14, "garment")


# Run texts as the Train page draws them (ui.run_view.status_ui), on stand-in runs.
def status_script(status: str, done: int, total: int, metrics: dict | None) -> None:
    from types import SimpleNamespace

    from ui import run_view

    run_view.status_ui(
        SimpleNamespace(
            status=status,
            epochs_done=done,
            epochs_total=total,
            seconds=12.5,
            samples_per_second=None,
            metrics=metrics,
            message="",
            # A running run is past training: its worker measures it (core.cluster.job).
            phase="measuring",
            batches=10,
            stop_requested=False,
            dataset="mnist",
        )
    )


@pytest.mark.parametrize(
    ("status", "done", "total", "metrics", "expected"),
    [
        ("finished", 1, 1, None, "Trained 1 epoch in 12.5 s."),
        ("finished", 5, 5, None, "Trained 5 epochs in 12.5 s."),
        ("stopped", 0, 1, None, "Stopped after 0 of 1 epoch."),
        ("interrupted", 2, 5, None, "Interrupted after 2 of 5 epochs."),
        # Shown trained while the test metrics are measured (a stopped run is not "trained").
        ("running", 5, 5, None, "Trained 5 epochs in 12.5 s."),
        ("running", 3, 5, None, "Training ended after 3 of 5 epochs."),
        (
            "finished",
            3,
            3,
            {"negative_elbo": 164.2},
            "Trained 3 epochs in 12.5 s. Test set: \u2212\u2060ELBO 164.2 nats.",
        ),
    ],
)
def test_run_status_counts_epochs_in_words(status, done, total, metrics, expected):
    app = AppTest.from_function(status_script, args=(status, done, total, metrics))
    app.run()
    assert not app.exception
    text = " ".join(item.value for kind in ("success", "info") for item in getattr(app, kind))
    assert text.startswith(expected), text
    assert "(s)" not in text
    measuring = [bar.text for bar in app.get("progress")] if status == "running" else []
    assert measuring == (
        ["Measuring it on the 10,000 test images: its test metrics appear here in a moment."]
        if status == "running"
        else []
    )


# One colour per class ---------------------------------------------------------------------


def test_the_palette_has_ten_distinct_class_colours_and_a_mark_of_neither():
    colours = palette.classes()
    assert len(colours) == 10 and len(set(colours)) == 10
    assert all(re.fullmatch(r"#[0-9a-f]{6}", colour) for colour in colours)
    # The mark (black in a white outline) is far from every class colour.
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours])
    for mark in (palette.MARK, palette.HALO):
        assert mark not in colours
        spot = np.array([int(mark[i : i + 2], 16) for i in (1, 3, 5)])
        assert np.abs(rgb - spot).sum(axis=1).min() > 150, mark


def test_the_latent_scatter_draws_each_class_in_its_palette_colour():
    from ui.plots import latent_scatter

    # Many points of each class on one spot: their alpha builds up to the colour itself.
    spots = [(-3 + 0.65 * label, 3 - 0.65 * label) for label in range(10)]
    codes = np.repeat(np.array(spots, np.float32), 60, axis=0)
    labels = np.repeat(np.arange(10), 60)
    scatter = latent_scatter(codes, labels)
    pixels = np.asarray(scatter.image)
    for label, (z1, z2) in enumerate(spots):
        x, y = (round(v) for v in scatter.to_pixels(z1, z2))
        expected = [int(palette.classes()[label][i : i + 2], 16) for i in (1, 3, 5)]
        assert np.abs(pixels[y, x].astype(int) - expected).max() <= 8, (label, pixels[y, x])


def test_the_latent_scatter_names_an_uploads_few_classes_as_typed():
    """Two folders, one named with matplotlib's maths sign: two ticks, the name drawn as is."""
    from ui.plots import latent_scatter

    codes = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    scatter = latent_scatter(codes, np.repeat([0, 1], 20), ("price $5", "tall"))
    assert scatter.image.size[0] > 100
    unlabelled = latent_scatter(codes, np.full(40, -1))  # An upload without folders.
    assert unlabelled.image.size[0] > 100


def test_the_latent_pad_marks_your_sliders_in_the_palettes_mark():
    from ui import latent_pad
    from ui.plots import Scatter

    document = latent_pad.html(
        [], b"", 28, [0.0], Scatter(image=None, origin=(0, 0), scale=(1, 1)), b"", key="k"
    )
    data = latent_pad.payload(document)
    assert (data["mark"], data["halo"]) == (palette.MARK, palette.HALO)
    # The crosshair and the ring are drawn in the payload's colours, none of their own.
    marks = document[document.index("function outlined") : document.index("let renders")]
    assert "DATA.mark" in marks and "DATA.halo" in marks
    assert re.search(r"#[0-9a-fA-F]{3,6}\b", marks) is None
    assert "Red cross" not in document


def test_every_table_of_the_pages_shows_a_dash_for_a_missing_value():
    """Streamlit writes "None" in an empty cell, which reads as a measurement (issue 27:
    Compare's PCA row): every st.dataframe of the pages and ui/ passes a placeholder."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    missing = []
    for path in [*root.glob("pages/*.py"), *root.glob("ui/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "dataframe"
                and "placeholder" not in {keyword.arg for keyword in node.keywords}
            ):
                missing.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not missing
    assert len(list(root.glob("pages/*.py"))) >= 8  # The check read the pages.


def test_time_left_waits_for_a_twentieth_of_the_run_then_follows_the_pace():
    """The first batch carries the model's compilation: estimated from it, a 35 s run said
    "about 5204 s left"."""
    from dataclasses import replace

    from core.store.records import Run
    from ui.run_view import timing_text

    start = Run(
        **dict.fromkeys(("id", "student_id", "created_at", "queued_at", "epochs_done"), 0),
        variant="vae",
        settings={},
        status="running",
        phase="training",
        message=None,
        stop_requested=False,
        started_at=0.0,
        finished_at=None,
        heartbeat_at=None,
        worker=None,
        epochs_total=10,
        batches=100,
        batch=1,
        seconds=3.0,
        samples_per_second=None,
        metrics=None,
    )
    assert timing_text(start) == "estimating time"
    halfway = replace(start, epochs_done=5, batch=0, seconds=20.0)
    assert timing_text(halfway) == "about 20 s left"
