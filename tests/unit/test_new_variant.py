"""What adding a variant took (issue 31). The VQ-VAE and the conditional VAE are each their
module, their Keras layers' module, one registry line, their quality bars, and the one view of
what only they have (a codebook; a class chosen apart from the style). Nothing else in the lab's
code names them: races, challenges, Compare, Get the code and the notebooks take them from the
registry.

What the lab gained for them, for any later variant of their kinds, names neither:
- a codebook: `metrics.codebook` (its code size is its tokens), the served bundle's `codebook`;
- a class in the code (`Variant.classes`): batches of (images, labels) in training, the
  labelled fit of the standalone file, the code size without the class, the served bundle's
  `classes` and `decode_as`, the Latent page's and Draw's choice of a class;
- the first kernel found inside nested models (Inside's features of an encoder made of two).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.ml import variants

ROOT = Path(__file__).resolve().parents[2]
NEEDED = {
    "vqvae": {
        "core/ml/variants/__init__.py": "its registry line",
        "core/ml/variants/vqvae.py": "the variant: config, builder, texts, settings, recipe, code",
        "core/ml/variants/vqvae_model.py": "its quantizer layer (codebook, straight through)",
        "core/ml/evaluate.py": "its quality bars (keras-io's figures on MNIST)",
        "ui/codebook_view.py": "Inside's codebook section and Draw's tokens",
    },
    "cvae": {
        "core/ml/variants/__init__.py": "its registry line",
        "core/ml/variants/cvae.py": "the variant: config, builder, texts, settings, recipe, code",
        "core/ml/variants/cvae_model.py": "its model (conditional ELBO, classifier head)",
        "core/ml/evaluate.py": "its quality bar (below the VAE's -ELBO)",
        "ui/cvae_view.py": "Latent's class and style, Draw's drawing as another class",
    },
}


def lab_sources() -> list[Path]:
    return [
        path
        for folder in ("core", "ui", "pages", "deploy")
        for path in (ROOT / folder).rglob("*.py")
    ] + [ROOT / "app.py"]


@pytest.mark.parametrize("name", list(NEEDED))
def test_a_new_variant_needed_its_modules_a_registry_line_its_bars_and_its_view(name):
    naming = {
        str(path.relative_to(ROOT))
        for path in lab_sources()
        if f'"{name}"' in path.read_text()
        or f"{name}_model" in path.read_text()
        or path.stem.startswith(name)
    }
    assert naming == set(NEEDED[name]), naming ^ set(NEEDED[name])
    registry = (ROOT / "core/ml/variants/__init__.py").read_text()
    assert [line for line in registry.splitlines() if f'"{name}"' in line] == [
        f'    "{name}": "core.ml.variants.{name}",'
    ]


@pytest.mark.parametrize("name", list(NEEDED))
def test_the_registry_offers_it_with_everything_the_pages_read(name):
    variant = variants.get(name)
    assert name in variants.names() and variant.shipped
    assert variant.code and "def build_model" in variant.code  # Get the code, the notebook.
    assert variant.settings and variant.live  # Train, races and a lesson's locks.
    assert variant.measures  # Its card's own figures.


@pytest.mark.slow  # Trains both, through the worker's own task body.
def test_both_race_together_and_finish_with_their_own_measures(tmp_path, splits):
    from core.cluster.job import train_run
    from core.lab.runs import start_race
    from core.store import Store

    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    student, _ = store.new_student()
    racers = [(name, {"epochs": 1, "subset": 1000}) for name in NEEDED]
    ids = start_race(store, student, racers)
    for run_id in ids:
        assert store.claim(run_id, "test:0")
        assert train_run(store, run_id, splits) == "finished"
    vq, conditional = (store.run(run_id).metrics for run_id in ids)
    assert vq["code_size"] == 49 and vq["codebook_size"] == 64 and vq["normalised_mse"] > 0
    assert conditional["code_size"] == 2 and conditional["negative_elbo"] > 0
    assert {store.run(run_id).settings["race"] for run_id in ids} == {ids[0]}
    store.close()
