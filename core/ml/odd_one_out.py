"""Odd one out: anomaly detection by reconstruction error, in NumPy alone.

An autoencoder trained on normal images only (an odd-one-out run: `TrainConfig.odd` names the
labels it never sees) is expected to reconstruct what it has not seen badly, so each test image
is scored by its reconstruction error and the worst are flagged. How well the scores separate
the odd images from the normal ones is the area under the ROC curve: 1 when every odd image
scores above every normal one, 0.5 for a coin, below 0.5 when the odd ones reconstruct *better*
(digit 1, whatever the model saw). The web tier computes all of this (it has no Keras); the
leave-one-digit-out table is measured by `core.ml.odd_table`, where Keras lives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Tonnaer's thesis (TU Eindhoven), table 3.3: area under the ROC curve of a VAE trained on
# MNIST without one digit, scored by its ELBO, detecting that digit among the test images;
# digits 0..9, latent dimensions 2 and 32 (https://books.ipskampprinting.nl/thesis/603556-Tonnaer/65).
TONNAER = {
    2: (0.96, 0.73, 0.97, 0.94, 0.73, 0.92, 0.95, 0.77, 0.92, 0.66),
    32: (0.81, 0.09, 0.92, 0.87, 0.78, 0.86, 0.87, 0.51, 0.89, 0.58),
}
TABLE_FILE = "odd_one_out.json"  # In trained/: the leave-one-digit-out table, measured.


def errors(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Each image's score: its mean squared error per pixel, as float64."""
    difference = images.reshape(len(images), -1).astype(np.float64) - reconstructions.reshape(
        len(images), -1
    )
    return (difference**2).mean(axis=1)


def _midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of `values`, ties sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    # Each run of equal values: its first and last position in sorted order.
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def auc(normal: np.ndarray, odd: np.ndarray) -> float:
    """Area under the ROC curve of `odd` scoring above `normal`: the chance that a random odd
    image scores higher than a random normal one, ties counting half (Mann-Whitney's U over
    n·m), computed from ranks in O(n log n)."""
    normal, odd = np.asarray(normal, np.float64), np.asarray(odd, np.float64)
    if not len(normal) or not len(odd):
        raise ValueError("the area under the ROC curve needs normal and odd scores")
    ranks = _midranks(np.concatenate([odd, normal]))
    u = ranks[: len(odd)].sum() - len(odd) * (len(odd) + 1) / 2.0
    return float(u / (len(odd) * len(normal)))


def roc(normal: np.ndarray, odd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-alarm rate, catch rate, threshold) at every distinct score used as the threshold
    (an image is flagged when its score is at least the threshold), from flagging nothing
    (threshold +inf: 0, 0) to flagging everything (1, 1)."""
    normal, odd = np.asarray(normal, np.float64), np.asarray(odd, np.float64)
    thresholds = np.unique(np.concatenate([normal, odd]))[::-1]
    # Images scoring at least t: counted with a binary search in each sorted array.
    caught = len(odd) - np.searchsorted(np.sort(odd), thresholds, side="left")
    alarms = len(normal) - np.searchsorted(np.sort(normal), thresholds, side="left")
    return (
        np.r_[0.0, alarms / len(normal)],
        np.r_[0.0, caught / len(odd)],
        np.r_[np.inf, thresholds],
    )


@dataclass(frozen=True)
class Verdict:
    """What a threshold does: odd images caught and missed, normal ones flagged and passed."""

    caught: int
    missed: int
    false_alarms: int
    passed: int

    @property
    def catch_rate(self) -> float:
        return self.caught / max(1, self.caught + self.missed)

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / max(1, self.false_alarms + self.passed)


def verdict(normal: np.ndarray, odd: np.ndarray, threshold: float) -> Verdict:
    """Counts at `threshold` (flagged: a score at least the threshold)."""
    caught, alarms = int((odd >= threshold).sum()), int((normal >= threshold).sum())
    return Verdict(caught, len(odd) - caught, alarms, len(normal) - alarms)


def threshold_for(normal: np.ndarray, false_alarms: float = 0.05) -> float:
    """The threshold that flags about `false_alarms` of the normal images: the level a
    detector is set at when only normal data is known."""
    return float(np.quantile(np.asarray(normal, np.float64), 1.0 - false_alarms))


def split(labels: np.ndarray, odd: list[int]) -> np.ndarray:
    """True where an image's label is one of the `odd` ones."""
    return np.isin(labels, odd)


def probes() -> dict[str, np.ndarray]:
    """The traps: images no dataset holds, as float (1, 28, 28, 1) in [0, 1]. A blank image
    and a plain bar are easy to reconstruct for almost any model, so they score as normal,
    however odd they are."""
    blank = np.zeros((28, 28), np.float32)
    bar = blank.copy()
    bar[4:24, 13:15] = 1.0  # A stroke two pixels wide, as MNIST's 1s are drawn.
    square = blank.copy()
    square[6:22, 6:22] = 1.0
    return {name: image[None, ..., None] for name, image in
            (("blank", blank), ("bar", bar), ("square", square))}  # fmt: skip
