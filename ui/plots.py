"""A latent-space scatter drawn once with matplotlib; the latent pad marks it in the browser.

Redrawing 10,000 points per slider move would cost a matplotlib render (~100 ms); the picture
is drawn once, with where data coordinates land in it, so the pad can draw its cross on top.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.i18n import _
from ui import palette

LIMIT = 4.0  # The plot shows z in [-4, 4] on both axes; the sliders span [-3, 3].


@dataclass
class Scatter:
    image: Image.Image
    # Pixel position of data point (0, 0) and pixels per unit of z, along x and y.
    origin: tuple[float, float]
    scale: tuple[float, float]

    def to_pixels(self, z1: float, z2: float) -> tuple[float, float]:
        return self.origin[0] + z1 * self.scale[0], self.origin[1] - z2 * self.scale[1]


def latent_scatter(
    codes: np.ndarray, labels: np.ndarray, names: tuple = (), size: float = 5.0
) -> Scatter:
    """The 2-D codes coloured by label (named by `names`, else by number), rendered to a
    picture with its axes mapping."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    # Chinese labels ("数字", Fashion-MNIST's class names) need a CJK font, which matplotlib's
    # own lacks (it drew them as empty boxes): tried after it, glyph by glyph.
    with plt.rc_context({"font.family": [*plt.rcParams["font.family"], *cjk_fonts()]}):
        figure, axes = plt.subplots(figsize=(size, size), dpi=100)
        points = axes.scatter(
            codes[:, 0],
            codes[:, 1],
            c=labels,
            cmap=ListedColormap(palette.classes()),  # The replay below uses the same colours.
            s=2,
            alpha=0.6,
            vmin=-0.5,
            vmax=9.5,
            rasterized=True,
        )
        axes.set_xlim(-LIMIT, LIMIT)
        axes.set_ylim(-LIMIT, LIMIT)
        axes.set_xlabel("z1")
        axes.set_ylabel("z2")
        axes.set_aspect("equal")
        if names and list(names) != [str(digit) for digit in range(10)]:
            # An upload's folders may be fewer than ten: a tick for each. Their names are the
            # caller's, as shown (translated, or an upload's as typed); a "$" would start
            # matplotlib's maths, so it is escaped.
            colorbar = figure.colorbar(
                points, ax=axes, ticks=range(len(names)), fraction=0.046, pad=0.04
            )
            colorbar.ax.set_yticklabels([name.replace("$", r"\$") for name in names], fontsize=7)
        elif (np.asarray(labels) >= 0).any():  # Not an upload without folders: no classes.
            colorbar = figure.colorbar(points, ax=axes, ticks=range(10), fraction=0.046, pad=0.04)
            # Translators: the colour bar of the latent-space scatter (its ticks are 0 to 9)
            colorbar.set_label(_("digit"))
        figure.tight_layout()
        figure.canvas.draw()
        # Where data coordinates land in the rendered picture (matplotlib's y axis points up).
        height = figure.canvas.get_width_height()[1]
        (x0, y0), (x1, y1) = axes.transData.transform([(0.0, 0.0), (1.0, 1.0)])
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        plt.close(figure)
        image = Image.open(buffer).convert("RGB")
    return Scatter(image, origin=(x0, height - y0), scale=(x1 - x0, y1 - y0))


@functools.cache
def cjk_fonts() -> tuple[str, ...]:
    """A Simplified Chinese font family matplotlib can draw with (Noto Sans CJK, Debian's
    fonts-noto-cjk), registered if matplotlib's font cache predates it; () when none."""
    from matplotlib import font_manager

    family = "Noto Sans CJK SC"  # i18n: not shown
    if not any(entry.name == family for entry in font_manager.fontManager.ttflist):
        for path in font_manager.findSystemFonts():
            if "NotoSansCJK-Regular" in path:
                font_manager.fontManager.addfont(path)
    known = any(entry.name == family for entry in font_manager.fontManager.ttflist)
    return (family,) if known else ()
