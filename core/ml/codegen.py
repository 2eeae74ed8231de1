"""The code behind a run: one standalone Python file that builds, trains and evaluates the same
model, for a learner to take home, and the images it trains on as one `.npz`.

The file uses only Keras 3, NumPy and the standard library, so it runs anywhere Keras does. Its
images come from `--data FILE.npz` (what `data_npz` makes), else a copy already on the machine
(the lab's own, found the way `core.ml.data` finds it, so the file runs offline where the lab
ran), else Keras's downloader; when none has them it says so in one paragraph. Its model code
is each variant's own `code` declaration (the same layers, sizes and penalties as the lab's
module, written without the lab's serialisation machinery), filled in with the run's settings
(the file's text is in `core.ml.codegen_template`); a test runs every variant's file and checks
that its parameter count equals the lab's model's.

    python -m core.codegen vae                      # the shipped VAE's settings
    python -m core.codegen conv --dataset fashion   # the shipped Fashion-MNIST conv model's
    python -m core.codegen vae --notebook > vae.ipynb  # the same as a notebook (core.ml.notebook)
"""

from __future__ import annotations

import io
import string
import textwrap
from dataclasses import asdict

import numpy as np

from core.ml import data, variants
from core.ml.codegen_template import (
    FIT,
    FIT_DENOISING,
    FIT_LABELLED,
    HEADER,
    HELPERS,
    HELPERS_NEED,
    LABELS,
    LABELS_ODD,
    LOCAL_COPIES,
    MAIN,
    ODD,
    PICK_LABELS,
)

# The standard library modules every file imports, and those its dataset's readers add.
STDLIB = {"argparse", "os", "sys", "textwrap", "time"}
DATASET_STDLIB = {"mnist": {"importlib.util"}, "fashion": {"gzip"}}
# The names "Get the data (.npz)" gives, and the generated files look for beside themselves.
DATA_FILES = {"mnist": "mnist.npz", "fashion": "fashion-mnist.npz"}
# How the "no images" message ends: how to make the file where Keras can download the images.
REMAKE = (
    '; or, on a machine with internet, "\n'
    '        "(x_train, _), (x_test, _) = keras.datasets.{loader}.load_data() then "\n'
    '        f"numpy.savez_compressed(\\"{{DATA_FILE}}\\", x_train=x_train, x_test=x_test) '
    "makes one."
)


def kind(name: str) -> str:
    """The key of a dataset in this module's tables: its name, or "own" for an upload."""
    return "own" if data.own_id(name) is not None else name


def data_file(name: str) -> str:
    return DATA_FILES.get(name, f"{name}.npz")  # An upload's: own-12.npz.


def literal(value) -> str:
    """A Python literal of plain config values with double-quoted strings, as a formatter
    would write it (configs hold numbers, strings, None and lists of them, never user text)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def source_for(
    name: str, model_config: dict, train_config: dict, source: str, filename: str | None = None
) -> str:
    """The standalone file for variant `name` with these configs (`asdict` of each), to be
    saved as `filename` (its "Run it:" line names it; default NAME.py)."""
    header, model, main = parts(name, model_config, train_config, source, filename)
    return "\n\n\n".join(part.strip("\n") for part in (header, model)) + "\n" + main


def parts(
    name: str, model_config: dict, train_config: dict, source: str, filename: str | None = None
) -> tuple[str, str, str]:
    """The file in three parts, as `source_for` joins them and `core.ml.notebook` splits them
    into cells: the header (docstring, imports, CONFIG and TRAINING), the model (the helpers it
    calls and the variant's `build_model`), and the rest (reading the images, `main`)."""
    from core.ml import choices

    variant = variants.get(name)
    if not variant.code:
        raise ValueError(f"{variant.title} declares no code to generate")
    # Every field of today's config: a card or run older than a field (vanilla's
    # code_activation) gets its default, as the lab's own builder would.
    model_config = asdict(variants.make_config(name, **model_config))
    dataset = data.get(train_config.get("dataset", "mnist"))
    filename = filename or f"{name}.py"
    # An upload's name is its uploader's text: never pasted into Python source (a quote would
    # end a string, a brace run in an f-string); the file names it by its stable id instead.
    dataset_title = (
        dataset.title
        if kind(dataset.name) != "own"
        else f"images uploaded to the lab ({dataset.name})"
    )
    model_code = textwrap.dedent(variant.code)
    helpers = []
    for helper in HELPERS:
        if f"{helper}(" in model_code:
            helpers += [*HELPERS_NEED.get(helper, ()), helper]
    training = {
        "epochs": train_config["epochs"],
        "batch_size": train_config["batch_size"],
        "learning_rate": train_config["learning_rate"],
        "subset": train_config.get("subset") or 55000,
        "seed": train_config.get("seed", 0),
    }
    if train_config.get("odd"):  # Only then: every other file stays as it was.
        training["odd"] = list(train_config["odd"])
    values = choices.values_of({"train": train_config, "model": model_config}, name)
    header = string.Template(HEADER).substitute(
        title=variant.title,
        dataset_title=dataset_title,
        source=source,
        summary="\n".join(textwrap.wrap(variant.summary, 92)),
        described=choices.describe(values),
        filename=filename,
        data_file=data_file(dataset.name),
        stdlib_imports="\n".join(
            f"import {module}"
            for module in sorted(STDLIB | DATASET_STDLIB.get(kind(dataset.name), set()))
        ),
        config=literal(model_config),
        training=literal(training),
    )
    local_copies = string.Template(LOCAL_COPIES[kind(dataset.name)]).substitute(
        package=data.MNIST_PACKAGE,
        cache_name=f"{dataset.name}-v{data.CACHE_VERSION}.npz",  # As core.ml.data names it.
        fashion_dir=data.FASHION_DIR.as_posix(),
    )
    main = string.Template(MAIN).substitute(
        no_download="nothing downloads it"
        if kind(dataset.name) == "own"
        else "Keras's downloader failed",
        remake="."
        if kind(dataset.name) == "own"
        else REMAKE.format(loader="mnist" if dataset.name == "mnist" else "fashion_mnist"),
        data_file=data_file(dataset.name),
        dataset_title=dataset_title,
        local_copies=local_copies.strip("\n"),
        stem=filename.removesuffix(".py"),
        title=variant.title,
        fit=FIT_DENOISING if variant.denoising else FIT_LABELLED if variant.classes else FIT,
        odd=ODD if training.get("odd") else "",
        labels=(LABELS + (LABELS_ODD if training.get("odd") else "")) if variant.classes else "",
        pick_labels=PICK_LABELS if variant.classes else "",
    )
    model = [*(HELPERS[helper] for helper in dict.fromkeys(helpers)), model_code]
    return header, "\n\n\n".join(part.strip("\n") for part in model), main


def run_file_name(run) -> str:
    """The name a run's file downloads as, and its "Run it:" line says: deep_run5.py."""
    return f"{run.variant}_run{run.id}.py"


def shipped_file_name(name: str, dataset: str = "mnist") -> str:
    """A shipped model's file name: vae.py, vae_fashion.py for the Fashion-MNIST model."""
    return f"{name}.py" if data.get(dataset).name == "mnist" else f"{name}_{dataset}.py"


def for_run(run) -> str:
    """The file of a stored run (`core.store.Run`)."""
    return source_for(*run_args(run))


def run_args(run) -> tuple:
    """`source_for`'s arguments for a stored run."""
    return (
        run.variant,
        run.settings["model"],
        run.settings["train"],
        f"run {run.id} of the lab",
        run_file_name(run),
    )


def for_shipped(name: str, dataset: str = "mnist") -> str:
    """The file of a shipped model, from its card (or the variant's recipe without one)."""
    return source_for(*shipped_args(name, dataset))


def shipped_args(name: str, dataset: str = "mnist") -> tuple:
    """`source_for`'s arguments for a shipped model."""
    from core.ml import cards

    card = cards.load_card(name, dataset=dataset)
    if card is not None:
        model_config, train_config = card["config"], {**card["training"], "dataset": dataset}
    else:
        from core.ml.train_config import TrainConfig

        recipe = variants.get(name).recipe_config(dataset)
        model_config = asdict(variants.make_config(name, **recipe))
        train_config = asdict(TrainConfig(**variants.get(name).recipe(dataset)))
    label = "MNIST" if dataset == "mnist" else data.get(dataset).title
    return (
        name,
        model_config,
        train_config,
        f"the shipped {label} model",
        shipped_file_name(name, dataset),
    )


def data_file_name(dataset: str) -> str:
    """The name "Get the data (.npz)" gives a dataset, which its files look for beside them."""
    return data_file(data.get(dataset).name)


def data_npz(dataset: str) -> bytes:
    """Dataset `dataset` as one compressed .npz for a file's --data: uint8 x_train (60,000
    images, as the lab loads them: the file holds the last 5,000 out itself) and x_test, with
    the labels y_train and y_test beside them (Keras's own mnist.npz layout). Raises
    data.DatasetUnavailable when this machine cannot load it."""
    buffer = io.BytesIO()
    if data.own_id(dataset) is not None:  # An upload: with its own validation split.
        np.savez_compressed(buffer, **data.load_own(dataset))
        return buffer.getvalue()
    (x_train, y_train), (x_test, y_test) = data.load(dataset)
    np.savez_compressed(buffer, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return buffer.getvalue()
