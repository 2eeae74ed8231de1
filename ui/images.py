"""Turn 28x28 float arrays into crisp, enlarged images and error heatmaps for st.image."""

from __future__ import annotations

import numpy as np
from PIL import Image

DISPLAY = 140  # Pixels per side on screen: 5x MNIST, big enough to see single pixels.


def to_pil(image: np.ndarray, size: int = DISPLAY) -> Image.Image:
    """A [0, 1] grayscale image (28x28 or 28x28x1) enlarged without blurring its pixels."""
    pixels = np.clip(np.asarray(image, np.float32).reshape(28, 28), 0.0, 1.0)
    small = Image.fromarray(np.round(pixels * 255).astype(np.uint8), mode="L")
    return small.resize((size, size), Image.Resampling.NEAREST)


def heatmap(error: np.ndarray, size: int = DISPLAY, vmax: float = 1.0) -> Image.Image:
    """A per-pixel error map in the 'magma' colours (dark: right, bright: wrong)."""
    from matplotlib import colormaps

    values = np.clip(np.asarray(error, np.float32).reshape(28, 28) / vmax, 0.0, 1.0)
    rgb = (colormaps["magma"](values)[..., :3] * 255).astype(np.uint8)
    return Image.fromarray(rgb, mode="RGB").resize((size, size), Image.Resampling.NEAREST)


def strip(images: np.ndarray, size: int = 84, gap: int = 4) -> Image.Image:
    """Several 28x28 images side by side in one picture, with a thin gap between them."""
    count = len(images)
    canvas = Image.new("L", (count * size + (count - 1) * gap, size), color=255)
    for index, image in enumerate(images):
        canvas.paste(to_pil(image, size), (index * (size + gap), 0))
    return canvas


def grid(images: np.ndarray, columns: int, size: int = 56) -> Image.Image:
    """Images in rows of `columns`, touching, like the manifold figures of the seed texts."""
    rows = int(np.ceil(len(images) / columns))
    canvas = Image.new("L", (columns * size, rows * size), color=0)
    for index, image in enumerate(images):
        canvas.paste(to_pil(image, size), ((index % columns) * size, (index // columns) * size))
    return canvas
