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
