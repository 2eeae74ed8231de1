"""Every run as a notebook: the standalone file of `core.ml.codegen`, cut into cells that a
Markdown cell explains before each, in the reader's language (core.i18n), for Jupyter or Colab.

The code cells are the file's own code, in its order: the settings, the model, reading the
images, then `main`'s body as three steps (load and split, build and train, measure and save),
with `args` set in a cell of its own where the file parses its command line. Two changes make
it a notebook: the folder it looks in for the "Get the data" file is the notebook's working
folder (a notebook has no `__file__`; in Colab that is /content, where uploads go), and a last
cell draws eight test images over their reconstructions.

    python -m core.codegen vae --notebook > vae.ipynb
"""

from __future__ import annotations

import json
import textwrap

from core.i18n import _
from core.ml import codegen, data, variants

# Where the file looks for the data file beside itself, and where a notebook looks instead.
BESIDE_FILE = "os.path.dirname(os.path.abspath(__file__))"
BESIDE_NOTEBOOK = "os.getcwd()  # The notebook's folder (in Colab, /content: the uploads')"
# "%matplotlib inline": the figure shows in the notebook whatever MPLBACKEND the kernel
# inherited (Streamlit, for one, sets it to Agg in its own process).
PLOT = """%matplotlib inline
import matplotlib.pyplot as plt

shown = x_test[:8]
figure, axes = plt.subplots(2, 8, figsize=(12, 3.4))
for column, (image, rebuilt) in enumerate(zip(shown, reconstructions[:8])):
    for row, picture in enumerate((image, rebuilt)):
        axes[row, column].imshow(picture[..., 0], cmap="gray", vmin=0, vmax=1)
        axes[row, column].axis("off")
axes[0, 0].set_title("test images", loc="left")
axes[1, 0].set_title("reconstructions", loc="left")
plt.show()"""


def notebook_for(
    name: str,
    model_config: dict,
    train_config: dict,
    source: str,
    filename: str | None = None,
    origin: str = "",
) -> dict:
    """The notebook (nbformat 4, as a dict) of `codegen.source_for`'s file; `origin` says
    where its settings come from, in the reader's language ("run 5 of the lab")."""
    from dataclasses import asdict

    from core.ml import choices

    variant = variants.get(name)
    stem = (filename or f"{name}.py").removesuffix(".py")
    header, model, rest = codegen.parts(name, model_config, train_config, source, filename)
    settings = header.split('"""\n', 1)[1]  # The file's code after its docstring.
    reading, body = rest.split("\ndef main():\n", 1)
    body = body.split('\n\nif __name__ == "__main__":', 1)[0]
    steps = [step.strip("\n") for step in textwrap.dedent(body).split("\n\n")]
    if len(steps) != 4 or "argparse.ArgumentParser" not in steps[0]:
        raise ValueError("codegen's main() no longer has its four steps; update the notebook")
    dataset = data.get(train_config.get("dataset", "mnist"))
    data_file = codegen.data_file(dataset.name)
    own = codegen.kind(dataset.name) == "own"
    parameters = (
        "import argparse\n\n"
        "args = argparse.Namespace(\n"
        '    epochs=TRAINING["epochs"],\n'
        '    limit=TRAINING["subset"],  # Training images.\n'
        "    data=None,  # A .npz path; None: the data file beside the notebook, or the lab's.\n"
        f'    out="{stem}.weights.h5",\n'
        ")"
    )
    values = choices.values_of(
        {"train": train_config, "model": asdict(variants.make_config(name, **model_config))}, name
    )
    described = choices.describe(values, translated=True)
    # An upload is named by its id, never by its uploader's words (as in the file).
    shown = (
        _("images uploaded to the lab ({name})").format(name=dataset.name)
        if own
        else _(dataset.title)
    )
    cells = [
        markdown(
            _("# {variant} on {dataset}").format(variant=_(variant.title), dataset=shown),
            _("Made by Autoencoder Lab from {origin}.").format(origin=origin or source),
            _(variant.summary),
            _("**Settings:** {settings}").format(settings=described),
            colab_note(data_file, own),
        ),
        code(settings.strip("\n")),
        markdown(
            _("## The model"),
            _(
                "The same layers, sizes and losses as the lab's model. `build_model()` returns "
                "the model and the loss it trains with."
            ),
        ),
        code(model),
        markdown(
            _("## The images"),
            _(
                "Where the images come from, in this order: the file `{data_file}` beside this "
                "notebook (the lab's “Get the data (.npz)” button gives it), a copy the lab keeps "
                "on this machine, else Keras's downloader{download}. Each image is 28×28 grey, "
                "with values from 0 to 1."
            ).format(
                data_file=data_file,
                download=_(" (not for images uploaded to the lab)") if own else "",
            ),
        ),
        code(reading.strip("\n").replace(BESIDE_FILE, BESIDE_NOTEBOOK)),
        markdown(
            _("## This run's settings"),
            _(
                "What the file takes from its command line: the epochs, how many training "
                "images (`limit`) and the data file (`data`). Change them here and run the "
                "cells below again."
            ),
        ),
        code(parameters, tags=["parameters"]),
        markdown(
            _("## 1. Load and split the images"),
            _(
                "As in the lab: the last training images are held out to measure the model on "
                "images it does not train on after every epoch (the validation loss), and "
                "the training images are a seeded random subset of the rest."
            ),
        ),
        code(steps[1]),
        markdown(
            _("## 2. Build and train"),
            _(
                "Adam, with the learning rate decaying along a cosine to a hundredth of its start "
                "by the last step. Each epoch prints the training loss and the validation loss."
            ),
        ),
        code(steps[2]),
        markdown(
            _("## 3. Measure on the test images"),
            _(
                "The test images were never used in training. BCE is the binary cross-entropy "
                "per pixel, MSE the mean squared error per pixel: lower is a closer copy. The "
                "weights are saved last."
            ),
        ),
        code(steps[3]),
        markdown(
            _("## See it"),
            _("Eight test images (top) and the model's reconstructions of them (bottom)."),
        ),
        code(PLOT),
    ]
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index}"  # nbformat 4.5 wants ids: stable ones, by place.
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def colab_note(data_file: str, own: bool) -> str:
    """How to open the notebook in Google Colab, and where its images go there."""
    images = (
        _(
            "upload `{data_file}` (the lab's “Get the data (.npz)”): these images are in the "
            "lab only"
        )
        if own
        else _(
            "upload `{data_file}` (the lab's “Get the data (.npz)”), or let Keras download "
            "the images"
        )
    ).format(data_file=data_file)
    return _(
        "> **Open in Colab:** on colab.research.google.com choose File → Upload notebook and "
        "pick this file; in the Files pane on the left, {images}. Then run the cells from the "
        "top (Runtime → Run all). On your own machine: `pip install keras tensorflow "
        "matplotlib jupyter`, then open it with Jupyter."
    ).format(images=images)


def markdown(*paragraphs: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": "\n\n".join(paragraphs)}


def code(text: str, tags: list[str] | None = None) -> dict:
    return {
        "cell_type": "code",
        "metadata": {"tags": tags} if tags else {},
        "source": text,
        "execution_count": None,
        "outputs": [],
    }


def dumps(notebook: dict) -> str:
    return json.dumps(notebook, ensure_ascii=False, indent=1) + "\n"


def file_name(code_file: str) -> str:
    """The notebook's name beside its file's: deep_run5.ipynb for deep_run5.py."""
    return code_file.removesuffix(".py") + ".ipynb"


def for_run(run) -> str:
    """A stored run's notebook, as the text of an .ipynb file."""
    origin = _("run {id} of the lab").format(id=run.id)
    return dumps(notebook_for(*codegen.run_args(run), origin=origin))


def for_shipped(name: str, dataset: str = "mnist") -> str:
    """A shipped model's notebook, as the text of an .ipynb file."""
    origin = _("the lab's pretrained model for {dataset}").format(
        dataset=_(data.get(dataset).title)
    )
    return dumps(notebook_for(*codegen.shipped_args(name, dataset), origin=origin))
