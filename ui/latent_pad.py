"""The latent pad: two sliders whose digit is decoded in the browser (see core.ml.export).

A Streamlit slider sends its value when released and each move is a script rerun: ~11 ms of
server CPU and ~60 ms of browser work, paid by the one server for every student of a class.
In the pad the decoder runs in the page, so the digit, the manifold's red cell and the
scatter's crosshair follow the thumb while it is dragged and the server does nothing.
"""

from __future__ import annotations

import base64
import html as markup
import json
import re
from pathlib import Path

from core import i18n
from core.i18n import N_, _
from core.ml.export import DenseLayer
from ui import palette
from ui.plots import LIMIT, Scatter

TEMPLATE = Path(__file__).with_name("latent_pad.html")


def jpeg_url(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


def html(
    chain: list[DenseLayer],
    manifold_jpeg: bytes,
    cell: int,
    quantiles: list[float],
    scatter: Scatter,
    scatter_jpeg: bytes,
    key: str,
    noun: str = "digit",
) -> str:
    """The pad as one HTML document, without the drawing's ring (see `with_ring`). Everything
    in it is made here from numbers and our own pictures; nothing a user typed or uploaded
    goes into it."""
    payload = {
        "layers": [layer.as_json() for layer in chain],
        "manifold": jpeg_url(manifold_jpeg),
        "cell": cell,
        "quantiles": [float(q) for q in quantiles],
        "scatter": jpeg_url(scatter_jpeg),
        "origin": [float(v) for v in scatter.origin],
        "scale": [float(v) for v in scatter.scale],
        "limit": LIMIT,
        "ring": RING,
        "mark": palette.MARK,
        "halo": palette.HALO,
        "key": f"latent-pad-{key}",
    }
    # "</" would end the script element early; JSON allows it escaped.
    text = json.dumps(payload, allow_nan=False).replace("</", "<\\/")
    # The captions name what the images are ("digit", "garment"): our own words, not a user's.
    page = translated(TEMPLATE.read_text(), noun).replace("NOUN", noun)
    return page.replace("/*PAYLOAD*/null", text, 1)


# The template's JavaScript writes the digit's caption as the sliders move.
DECODED_AT = "`Decoded at z = (${z[0].toFixed(2)}, ${z[1].toFixed(2)})`"


# The template's captions that name what the images show (NOUN in the template).
NOUN_TEXTS = (
    N_("The decoded {noun}"),
    N_("{noun}s decoded on a grid of the latent plane"),
    N_(
        "The manifold: {noun}s decoded on a grid of Gaussian quantiles (red: the cell "
        "nearest to your sliders)"
    ),
    N_("The test {noun}s in the latent plane"),
    N_(
        "The test {noun}s encoded (mean code), coloured by label. Crosshair: your sliders. "
        "Ring: your last input on the Draw page."
    ),
)


def translated(page: str, noun: str) -> str:
    """The template's texts in the reader's language (the template holds them in English,
    with NOUN for what the images show). A text the template no longer holds is an error, so
    a reworded template is noticed instead of left in English."""
    shown = _(noun)
    language = i18n.locale_name().replace("_", "-")  # "en", "zh-CN": for screen readers.
    page = _swap(page, '<html lang="en">', f'<html lang="{language}">', escape=False)
    for message in NOUN_TEXTS:  # The template writes each with NOUN for {noun}.
        page = _swap(page, message.replace("{noun}", "NOUN"), _(message).format(noun=shown))
    # Translators: the caption under the decoded image; {z1} and {z2} are the sliders' values
    decoded_at = _("Decoded at z = ({z1}, {z2})")
    page = _swap(page, "Decoded at z = (0.00, 0.00)", decoded_at.format(z1="0.00", z2="0.00"))
    script = (
        decoded_at.replace("\\", "\\\\")
        .replace("`", "\\`")
        .replace("${", "\\${")
        .replace("</", "<\\/")
        .replace("{z1}", "${z[0].toFixed(2)}")
        .replace("{z2}", "${z[1].toFixed(2)}")
    )
    return _swap(page, DECODED_AT, f"`{script}`", escape=False)


def _swap(page: str, english: str, shown: str, escape: bool = True) -> str:
    """`page` with its text `english` (however the template wraps its lines) as `shown`."""
    pattern = r"\s+".join(re.escape(word) for word in english.split())
    replacement = markup.escape(shown) if escape else shown
    page, count = re.subn(pattern, lambda _match: replacement, page, count=1)
    if count != 1:
        raise ValueError(f"the latent pad's template no longer holds {english!r}")
    return page


RING = "ring-of-the-last-drawing"


def with_ring(document: str, ring: tuple[float, float] | None) -> str:
    """The pad with the last drawing's ring: one string replacement per page run, so the
    megabyte-long document is kept once per model, not once per student's drawing."""
    value = "null" if ring is None else json.dumps([float(ring[0]), float(ring[1])])
    return document.replace(json.dumps(RING), value, 1)


def payload(document: str) -> dict:
    """The data inside a pad document (the inverse of `html`, for tests and checks)."""
    start = document.index("const DATA = ") + len("const DATA = ")
    end = document.index(";\n", start)
    return json.loads(document[start:end])
