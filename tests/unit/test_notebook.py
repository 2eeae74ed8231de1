"""Every run as a notebook (core.ml.notebook): valid nbformat, the file's own code in cells with
an explanation before each, in the reader's language, and every variant's notebook executed top
to bottom in a Jupyter kernel (nbclient) on a small subset."""

from __future__ import annotations

import itertools
import json
import math
import re
import textwrap

import numpy as np
import pytest

from core import i18n
from core.ml import codegen, notebook, variants

nbformat = pytest.importorskip("nbformat")


def cells(text: str, kind: str) -> list[str]:
    return [
        cell.source for cell in nbformat.reads(text, as_version=4).cells if cell.cell_type == kind
    ]


def test_a_notebook_is_the_files_code_with_each_step_explained():
    text = notebook.for_shipped("conv")
    found = nbformat.reads(text, as_version=4)
    nbformat.validate(found)
    kinds = [cell.cell_type for cell in found.cells]
    # Markdown and code alternate: an explanation before every step.
    assert kinds[0] == "markdown" and all(a != b for a, b in itertools.pairwise(kinds))
    source = codegen.for_shipped("conv")
    body = source.split("\ndef main():\n", 1)[1].split('\n\nif __name__ == "__main__":')[0]
    dedented = textwrap.dedent(body)
    parameters = [c for c in found.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "args = argparse.Namespace(" in parameters[0].source
    for code in cells(text, "code"):
        if code in (parameters[0].source, notebook.PLOT):
            continue
        # The file's own code (a notebook looks for its data file in its working folder).
        code = code.replace(notebook.BESIDE_NOTEBOOK, notebook.BESIDE_FILE)
        assert code in source or code in dedented, code[:200]
    # Every line of the file's main() is in the cells, but its first step: the argument
    # parsing, whose values the parameters cell sets.
    for line in "\n\n".join(dedented.split("\n\n")[1:]).splitlines():
        assert any(line in code for code in cells(text, "code")), line
    assert "Open in Colab" in cells(text, "markdown")[0]


def test_a_notebook_explains_itself_in_the_readers_language():
    english = notebook.for_shipped("vae", "fashion")
    i18n.use("zh")
    try:
        chinese = notebook.for_shipped("vae", "fashion")
    finally:
        i18n.use("en")
    assert cells(chinese, "code") == cells(english, "code")  # The same code.
    said = "\n".join(cells(chinese, "markdown"))
    assert "在 Colab 中打开" in said and "Open in Colab" not in said
    assert re.search(r"[\u4e00-\u9fff]", cells(chinese, "markdown")[0])


def test_the_command_line_prints_a_shipped_models_notebook(capsys):
    from core.codegen import main

    assert main(["deep", "--dataset", "fashion", "--notebook"]) == 0
    printed = capsys.readouterr().out
    nbformat.validate(nbformat.reads(printed, as_version=4))
    assert json.loads(printed)["cells"][0]["source"].startswith("# Deep on Fashion-MNIST")


def test_an_uploads_notebook_never_shows_its_uploaders_words(tmp_path):
    """As in the file: an upload is named by its id in the notebook, so a name with Markdown
    or HTML in it cannot become part of the page Jupyter renders."""
    from types import SimpleNamespace

    from core.ml import choices
    from core.ml.training import TrainConfig

    settings = choices.settings_for(TrainConfig(dataset="own-7"), variants.make_config("deep"))
    run = SimpleNamespace(id=12, variant="deep", settings=settings)
    text = notebook.for_run(run)
    said = "\n".join(cells(text, "markdown"))
    assert "images uploaded to the lab (own-7)" in said and "own-7.npz" in said
    assert "run 12 of the lab" in said
    assert notebook.file_name(codegen.run_file_name(run)) == "deep_run12.ipynb"


@pytest.mark.slow
def test_every_variants_notebook_runs_from_top_to_bottom(tmp_path, mnist):
    """All ten, one after another in one Jupyter kernel (its start and TensorFlow's import
    paid once), each on 200 training images for one epoch, as a learner runs it: every cell,
    then its printed test metrics are finite and its last cell draws the reconstructions."""
    from nbclient import NotebookClient

    (x_train, y_train), (x_test, y_test) = mnist
    data = tmp_path / "small.npz"
    np.savez_compressed(
        data, x_train=x_train[:600], y_train=y_train[:600], x_test=x_test[:300], y_test=y_test[:300]
    )
    books = {}
    for name in variants.names():
        book = nbformat.reads(notebook.for_shipped(name), as_version=4)
        at = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", []))
        book.cells.insert(  # As papermill injects parameters: after the tagged cell.
            at + 1,
            nbformat.v4.new_code_cell(f'args.epochs, args.limit, args.data = 1, 200, "{data}"'),
        )
        books[name] = book
    first = next(iter(books.values()))
    client = NotebookClient(
        first, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with client.setup_kernel():
        for book in books.values():
            client.nb = book
            for index, cell in enumerate(book.cells):
                client.execute_cell(cell, index)  # CellExecutionError on any error.
    for name, book in books.items():
        printed = "".join(
            output.get("text", "")
            for cell in book.cells
            if cell.cell_type == "code"
            for output in cell.outputs
            if output.output_type == "stream" and output.name == "stdout"
        )
        for measure in ("test BCE per pixel", "test MSE per pixel"):
            found = re.search(rf"^{measure}: (\S+)$", printed, re.MULTILINE)
            assert found and math.isfinite(float(found.group(1))), (name, printed[-500:])
        drawn = book.cells[-1].outputs
        assert any("image/png" in output.get("data", {}) for output in drawn), name
        assert (tmp_path / f"{name}.weights.h5").is_file()
