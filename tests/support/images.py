"""Test images made by hand: files whose headers lie, for the upload tests."""

from __future__ import annotations

import struct
import zlib


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width`x`height` 8-bit gray pixels, with one tiny IDAT.

    Decoded it would take width*height bytes (20000x20000: 400 MB); the file is 70 bytes.
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def bar_pngs(count: int, size: int = 30) -> list[tuple[str, bytes]]:
    """`count` distinct PNG files of white bars on black, each of another height, width and
    place (so none are duplicates once prepared): an upload of one's own images."""
    import io

    import numpy as np
    from PIL import Image

    files = []
    for index in range(count):
        picture = np.zeros((size, size), np.uint8)
        top, wide = index % (size - 10), index % (size - 8)
        picture[top + 2 : top + 8, 2 : 4 + wide] = 255
        out = io.BytesIO()
        Image.fromarray(picture).save(out, "PNG")
        files.append((f"{index}.png", out.getvalue()))
    return files


def prepared_upload(seed: int = 0, count: int = 120):
    """An upload of `count` distinct random-pattern PNGs, read and prepared (plain resize):
    what the store keeps for a student or a class."""
    import io

    import numpy as np
    from PIL import Image

    from core.ml import own_images

    files = []
    for index in range(count):
        generator = np.random.default_rng(seed * 10_000 + index)
        picture = np.zeros((40, 40), np.uint8)
        picture[8:32, 8:32] = np.kron(
            (generator.random((6, 6)) > 0.5).astype(np.uint8) * 255, np.ones((4, 4), np.uint8)
        )
        picture[20, 20] = 255
        out = io.BytesIO()
        Image.fromarray(picture).save(out, "PNG")
        files.append((f"{index}.png", out.getvalue()))
    return own_images.prepare(own_images.read_upload(files), recipe="resize", seed=seed)
