"""The latent pad: two sliders whose digit is decoded in the browser (see core.ml.export).

A Streamlit slider sends its value when released and each move is a script rerun: ~11 ms of
server CPU and ~60 ms of browser work, paid by the one server for every student of a class.
In the pad the decoder runs in the page, so the digit, the manifold's red cell and the
scatter's crosshair follow the thumb while it is dragged and the server does nothing.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

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
    page = TEMPLATE.read_text().replace("NOUN", noun)
    return page.replace("/*PAYLOAD*/null", text, 1)


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
