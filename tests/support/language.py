"""What a reader sees of a page rendered under AppTest, as text, and which of it is still
English when the page should be in Chinese.

Every string a Streamlit element carries for display is collected from its protobuf message
(labels, bodies, help texts, options, captions, a chart's titles, a table's headers), so a
text missed by the translation shows up whichever element holds it.
"""

from __future__ import annotations

import json
import re

# Fields that hold identifiers, data or markup for the browser, not text for the reader.
NOT_TEXT = {
    "id",
    "form_id",
    "key",
    "url",
    "mimetype",
    "icon",
    "data",
    "datasets",
    "spec",
    "columns",
    "theme",
    "selection_mode",
    "component_name",
    "json_args",
    "src",
    "srcdoc",
    "type",
    "language",
    "placeholder_value",
    "format",
    "vega_lite_theme",
    "page_script_hash",
    "element_hash",
    "fragment_id",
    "deploy_params",
    "cursor",
    "editing_mode",
    "column_order",
    "styler",
    "default",
    "value",
    "raw_value",
    "file_id",
    "css",
}
# A style sheet in a Markdown element (ui.layout's): markup, not text.
STYLE = re.compile(r"^\s*<style>|^\s*/\*", re.S)

# What stays in Latin letters in Chinese text (docs/GLOSSARY.md, style rule 6): metric and
# model names, products, units, symbols.
KEPT = {
    "BCE",
    "MSE",
    "PSNR",
    "ELBO",
    "KL",
    "L1",
    "L2",
    "MNIST",
    "Fashion-MNIST",
    "Fashion",
    "Keras",
    "TensorFlow",
    "ONNX",
    "Runtime",
    "Dask",
    "Streamlit",
    "NumPy",
    "Adam",
    "ReLU",
    "sigmoid",
    "softmax",
    "PCA",
    "VAE",
    "β-VAE",
    "dB",
    "nats",
    "nat",
    "ms",
    "MB",
    "GB",
    "px",
    "SVD",
    "Colab",
    "Python",
    "CSV",
    "npz",
    "PNG",
    "JPEG",
    "ROC",
    "AUC",
    "Autoencoder",
    "Lab",
    "SGD",
    "GPU",
    "CPU",
    "SQLite",
    "PostgreSQL",
    "HAProxy",
    "Tonnaer",
    "Sohn",
    "Pyro",
    "Kingma",
    "Welling",
    "Hinton",
    "Salakhutdinov",
    "Vincent",
    "Rifai",
    "Ng",
    "x",
    "z",
    "z1",
    "z2",
    "ep",
    "std",
    "max",
    "min",
}

# Left out of the check: code, URLs, icons, placeholders, tags, and an English gloss in
# full-width brackets after a Chinese term (docs/GLOSSARY.md, style rule 5), identifiers.
_CODE = re.compile(
    r"`[^`]*`|https?://\S+|:material/[a-z_]+:|\{[^}]*\}|<[^>]+>|(?<=[\u4e00-\u9fff])（[^（）]*）"
    # Identifiers and command-line words: x_train, FILE.npz, --data, model.fit.
    r"|[\w-]*[_.][\w.-]*\w|--[\w-]+"
)
_WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")


def element_texts(app) -> list[str]:
    """Every display string of the rendered page (main column and sidebar)."""
    found: list[str] = []
    for node in _nodes(app._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            _strings(proto, found)
    return [text for text in found if text.strip() and not STYLE.match(text)]


def _nodes(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def _strings(message, found: list[str]) -> None:
    for field, value in message.ListFields():
        if field.name == "spec":  # A Vega-Lite chart: its titles are text for the reader.
            found.extend(_chart_titles(value))
            continue
        if field.name == "columns" and isinstance(value, str):  # A table's column labels.
            found.extend(_column_labels(value))
            continue
        if field.name in NOT_TEXT:
            continue
        if field.type == field.TYPE_STRING:
            found.extend([value] if isinstance(value, str) else value)
        elif field.type == field.TYPE_MESSAGE:
            for item in [value] if hasattr(value, "ListFields") else value:
                _strings(item, found)


def _chart_titles(spec: str) -> list[str]:
    titles: list[str] = []

    def walk(item):
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "title" and isinstance(value, str):
                    titles.append(value)
                elif key == "title" and isinstance(value, dict) and "text" in value:
                    text = value["text"]
                    titles.extend(text if isinstance(text, list) else [text])
                else:
                    walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(json.loads(spec))
    return titles


def _column_labels(columns: str) -> list[str]:
    try:
        config = json.loads(columns)
    except ValueError:
        return []
    return [
        value["label"]
        for value in config.values()
        if isinstance(value, dict) and value.get("label")
    ]


def english(text: str) -> str | None:
    """The English left in a text meant to be Chinese: two or more English words in a row
    (beyond the names and symbols that stay in Latin letters), or None."""
    cleaned = _CODE.sub(" ", text)
    run: list[str] = []
    position = 0
    for match in _WORDS.finditer(cleaned):
        word = match.group()
        between = cleaned[position : match.start()]
        position = match.end()
        if word in KEPT or word.upper() in KEPT or len(word) == 1:
            run = []
            continue
        if run and re.search(r"[^\s,.;:!?()'\"-]", between):  # Chinese in between: a new run.
            run = []
        run.append(word)
        if len(run) >= 2:
            return text
    return None


def untranslated(app) -> list[str]:
    """The page's texts that still read as English."""
    return sorted({text for text in element_texts(app) if english(text)})
