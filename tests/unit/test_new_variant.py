"""What adding a variant took (issue 31): the VQ-VAE is its module, its Keras layer's module,
one registry line, its quality bars, and the one view of what only it has (its codebook).
Nothing else in the lab's code names it: races, challenges, Compare, Get the code and the
notebooks take it from the registry. A new variant that needs more than this list says so here.
"""

from __future__ import annotations

from pathlib import Path

from core.ml import variants

ROOT = Path(__file__).resolve().parents[2]
NEEDED = {
    "core/ml/variants/__init__.py": "its registry line",
    "core/ml/variants/vqvae.py": "the variant: config, builder, texts, settings, recipe, code",
    "core/ml/variants/vqvae_model.py": "its quantizer layer (codebook, straight through)",
    "core/ml/evaluate.py": "its quality bars (keras-io's figures on MNIST)",
    "ui/codebook_view.py": "Inside's codebook section and Draw's tokens",
}


def lab_sources() -> list[Path]:
    return [
        path
        for folder in ("core", "ui", "pages", "deploy")
        for path in (ROOT / folder).rglob("*.py")
    ] + [ROOT / "app.py"]


def test_the_vqvae_needed_its_module_a_registry_line_its_bars_and_one_view():
    naming = {str(path.relative_to(ROOT)) for path in lab_sources() if "vqvae" in path.read_text()}
    assert naming == set(NEEDED), naming ^ set(NEEDED)
    registry = (ROOT / "core/ml/variants/__init__.py").read_text()
    assert [line for line in registry.splitlines() if "vqvae" in line] == [
        '    "vqvae": "core.ml.variants.vqvae",'
    ]


def test_the_registry_offers_it_with_everything_the_pages_read():
    variant = variants.get("vqvae")
    assert "vqvae" in variants.names() and variant.shipped
    assert variant.code and "def build_model" in variant.code  # Get the code, the notebook.
    assert variant.settings and variant.live  # Train, races and a lesson's locks.
    assert variant.measures == ("codebook",)  # Its card's codebook figures.
