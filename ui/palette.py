"""The lab's class colours: one colour per digit (or garment) on every plot.

Each plot used to pick its own scheme (matplotlib's tab10 on the latent pad, Vega's tableau10
in the replay just below it), so the same digit changed colour between two plots on one page.
"""

from __future__ import annotations

from functools import cache

# The ten class colours are Petroff's accessible sequence (Petroff 2021, "Accessible Color
# Sequences for Data Visualization"), chosen by a study of colour-vision deficiencies and
# shipped by matplotlib: ten classes stay apart for most colour-blind readers, which
# tab10's and tableau10's red and green do not.
SEQUENCE = "petroff10"

# What marks a place on a class plot (the latent pad's "your sliders" crosshair): black inside
# a white outline. None of the class colours is near black or white, so the mark stands out
# on any cluster, the white against the dark ones and the black against the light ones.
MARK = "#000000"
HALO = "#ffffff"


@cache
def classes() -> tuple[str, ...]:
    """The ten class colours as "#rrggbb", class 0 first. (matplotlib is imported here, not at
    the top: it costs ~0.4 s, and most pages draw no class plot.)"""
    import matplotlib
    from matplotlib import colors

    return tuple(colors.to_hex(colour) for colour in matplotlib.color_sequences[SEQUENCE])
