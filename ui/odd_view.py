"""What the Odd one out page shows of a scored run: the two histograms, the ROC curve, what a
threshold catches and misses, the most and least odd images, and the traps. The numbers come
from `core.ml.odd_one_out`; this module only draws them."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.i18n import N_, _, ngettext
from core.ml import cards, odd_one_out
from ui import images, resources, words

THRESHOLD = "odd_threshold"  # The threshold slider's key (one per run: see `threshold_ui`).
BINS = 40
ROC_POINTS = 400  # A curve through 10,000 scores has ~10,000 corners; 400 draw the same line.
SHOWN = 8  # Images per group under the threshold.
SIZE = 70  # Pixels per image: ten in a row fit the main column of a laptop.
# The traps' probes, named for the reader.
PROBES = {
    "blank": N_("an all-black image"),
    "bar": N_("a plain vertical bar"),
    "square": N_("a filled square"),
}


class Scored:
    """A run's scores on the test set: one reconstruction error per image, split by label."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray, odd: list[int]):
        self.scores, self.labels, self.odd = scores, labels, odd
        self.is_odd = odd_one_out.split(labels, odd)
        self.normal_scores, self.odd_scores = scores[~self.is_odd], scores[self.is_odd]
        self.auc = odd_one_out.auc(self.normal_scores, self.odd_scores)


def scores_of(run, dataset: str) -> np.ndarray:
    """Every test image's reconstruction error under the run's model, once per (run, epoch
    of its weights) and server: ~0.3 s for 10,000 images with ONNX Runtime."""
    return _scores(run.key, dataset, run)


@st.cache_data(show_spinner=False, max_entries=32)  # 80 KB each.
def _scores(key: str, dataset: str, _run) -> np.ndarray:
    model, test = resources.run_model(_run), resources.test_set(dataset)
    found = []
    for start in range(0, len(test.pixels), 1000):  # 31 MB of floats at once is not needed.
        x = test.images(slice(start, start + 1000))
        found.append(odd_one_out.errors(x, model(x)))
    return np.concatenate(found)


def histogram_chart(scored: Scored, threshold: float) -> alt.LayerChart:
    """The two groups' errors as shares of their group (the odd ones are ~10x fewer), on
    log-spaced bins: errors spread over a decade or more."""
    low, high = np.log10(max(scored.scores.min(), 1e-6)), np.log10(scored.scores.max())
    edges = 10 ** np.linspace(low, high + 1e-9, BINS + 1)
    rows = []
    for name, values in ((_("normal"), scored.normal_scores), (_("odd"), scored.odd_scores)):
        counts, _edges = np.histogram(values, edges)
        share = counts / max(1, len(values))
        rows += [
            {"group": name, "start": edges[i], "end": edges[i + 1], "share": share[i]}
            for i in range(BINS)
        ]
        # The last step's right edge (a step-after area ends where its last point is).
        rows.append({"group": name, "start": edges[-1], "end": edges[-1], "share": 0.0})
    frame = pd.DataFrame(rows)
    x_title = _("error: MSE per pixel (log scale)")
    # Steps, not bars: Vega draws bars on a log axis as slivers; two see-through step areas
    # show where the groups overlap.
    bars = (
        alt.Chart(frame)
        .mark_area(opacity=0.45, interpolate="step-after")
        .encode(
            x=alt.X(
                "start:Q",  # i18n: not shown
                scale=alt.Scale(type="log", domain=[edges[0], edges[-1]], nice=False),
                title=x_title,
            ),
            y=alt.Y(
                "share:Q", stack=None, title=_("share of its group"), axis=alt.Axis(format="%")
            ),  # i18n: not shown
            color=alt.Color(
                "group:N",  # i18n: not shown
                scale=alt.Scale(domain=[_("normal"), _("odd")], range=["#1c83e1", "#ff4b4b"]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[
                alt.Tooltip("group:N", title=_("group")),  # i18n: not shown
                alt.Tooltip("start:Q", title=_("from"), format=".4f"),  # i18n: not shown
                alt.Tooltip("end:Q", title=_("to"), format=".4f"),  # i18n: not shown
                alt.Tooltip(
                    "share:Q", title=_("share of its group"), format=".1%"
                ),  # i18n: not shown
            ],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [threshold]}))
        .mark_rule(color="#31333f", strokeDash=[4, 3], strokeWidth=2)
        .encode(x="threshold:Q")  # i18n: not shown
    )
    return (bars + rule).properties(height=260)


def roc_chart(scored: Scored, threshold: float) -> alt.LayerChart:
    """The ROC curve, chance's diagonal, and where the threshold sits on the curve."""
    alarms, caught, _thresholds = odd_one_out.roc(scored.normal_scores, scored.odd_scores)
    keep = np.unique(np.linspace(0, len(alarms) - 1, ROC_POINTS).astype(int))
    curve = pd.DataFrame({"alarms": alarms[keep], "caught": caught[keep]})
    at = odd_one_out.verdict(scored.normal_scores, scored.odd_scores, threshold)
    x = alt.X(
        "alarms:Q", title=_("false alarms (normal flagged)"), axis=alt.Axis(format="%")
    )  # i18n: not shown
    y = alt.Y(
        "caught:Q", title=_("caught (odd flagged)"), axis=alt.Axis(format="%")
    )  # i18n: not shown
    line = alt.Chart(curve).mark_line(color="#ff4b4b").encode(x=x, y=y)
    chance = (
        alt.Chart(pd.DataFrame({"alarms": [0.0, 1.0], "caught": [0.0, 1.0]}))
        .mark_line(color="#a3a8b8", strokeDash=[4, 3])
        .encode(x="alarms:Q", y="caught:Q")  # i18n: not shown
    )
    point = (
        alt.Chart(pd.DataFrame({"alarms": [at.false_alarm_rate], "caught": [at.catch_rate]}))
        .mark_point(filled=True, size=90, color="#31333f")
        .encode(x="alarms:Q", y="caught:Q")  # i18n: not shown
    )
    return (chance + line + point).properties(height=260)


def threshold_ui(scored: Scored, run_id: int) -> float:
    """A slider over the scores' own quantiles (errors spread over decades, so even steps of
    error would crowd one end), starting where 5% of the normal images are flagged."""
    steps = np.unique(np.quantile(scored.scores, np.linspace(0.0, 1.0, 201)))
    start = odd_one_out.threshold_for(scored.normal_scores, 0.05)
    key = f"{THRESHOLD}_{run_id}"  # Each run's own: its scores are on another scale.
    if st.session_state.get(key) not in set(steps.tolist()):
        st.session_state[key] = float(steps[np.abs(steps - start).argmin()])
    return st.select_slider(
        _("Threshold: flag an image as odd when its error is at least"),
        options=steps.tolist(),
        format_func=lambda value: f"{value:.4f}",
        key=key,
        help=_(
            "It starts where one normal test image in twenty is flagged: the level a detector "
            "is set at when only normal data is known."
        ),
    )


def verdict_text(scored: Scored, threshold: float) -> str:
    at = odd_one_out.verdict(scored.normal_scores, scored.odd_scores, threshold)
    return _(
        "At {threshold:.4f}: **{caught:,} of {odd:,} odd images caught** ({catch:.0%}), "
        "{missed:,} missed; **{alarms:,} of {normal:,} normal images flagged** ({rate:.1%} "
        "false alarms)."
    ).format(
        threshold=threshold,
        caught=at.caught,
        odd=at.caught + at.missed,
        catch=at.catch_rate,
        missed=at.missed,
        alarms=at.false_alarms,
        normal=at.false_alarms + at.passed,
        rate=at.false_alarm_rate,
    )


def image_row(indices: np.ndarray, scored: Scored, names: list[str], dataset: str) -> None:
    """Test images with their class (`names`: as shown, by label) and error under each."""
    if not len(indices):
        st.caption(_("None."))
        return
    test = resources.test_set(dataset)
    st.image(
        [images.to_pil(test.images(int(index)), SIZE) for index in indices],
        caption=[
            f"{names[int(scored.labels[index])]} · {scored.scores[index]:.4f}" for index in indices
        ],
        width=SIZE,
    )


def groups_ui(scored: Scored, threshold: float, names: list[str], dataset: str) -> None:
    """What the threshold does, on each side, with the images themselves."""
    order = np.argsort(scored.scores)[::-1]  # Most odd first.
    flagged = scored.scores[order] >= threshold
    odd_first = scored.is_odd[order]
    caught = order[flagged & odd_first][:SHOWN]
    missed = order[~flagged & odd_first][::-1][:SHOWN]  # The best reconstructed odd ones.
    alarms = order[flagged & ~odd_first][:SHOWN]
    for title, found in (
        (_("**Caught:** odd images above the threshold (most odd first)"), caught),
        (_("**Missed:** odd images below it (best reconstructed first)"), missed),
        (_("**False alarms:** normal images above it (most odd first)"), alarms),
    ):
        st.markdown(title)
        image_row(found, scored, names, dataset)


def extremes_ui(scored: Scored, names: list[str], dataset: str) -> None:
    order = np.argsort(scored.scores)
    st.markdown(_("**The ten most odd test images** (largest error first)"))
    image_row(order[::-1][:10], scored, names, dataset)
    st.markdown(_("**The ten least odd** (smallest error first)"))
    image_row(order[:10], scored, names, dataset)


def table_ui() -> None:
    """The leave-one-digit-out table, measured by core.ml.odd_table, beside Tonnaer's."""
    st.subheader(_("4. MNIST, every digit left out in turn: measured here and published"))
    path = cards.folder(None, "mnist") / odd_one_out.TABLE_FILE
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        st.caption(
            _("The table has not been measured on this server (`python -m core.ml.odd_table`).")
        )
        return
    cells = {(row["digit"], row["code_size"]): row for row in table["rows"]}
    rows = []
    for digit in range(10):
        row = {_("odd MNIST digit"): str(digit)}
        for size in (2, 32):
            mine = cells.get((digit, size), {})
            row[_("VAE {size}-D, error").format(size=size)] = mine.get("auc_error", np.nan)
            row[_("VAE {size}-D, −ELBO").format(size=size)] = mine.get("auc_elbo", np.nan)
            row[_("Tonnaer {size}-D").format(size=size)] = odd_one_out.TONNAER[size][digit]
        rows.append(row)
    frame = pd.DataFrame(rows)
    st.dataframe(
        frame,
        hide_index=True,
        placeholder=words.MISSING,
        column_config={
            column: st.column_config.NumberColumn(format="%.2f") for column in frame.columns[1:]
        },
    )
    recipe = table["recipe"]
    pairs = [
        (cells[digit, 2]["auc_elbo"], cells[digit, 32]["auc_elbo"])
        for digit in range(10)
        if (digit, 2) in cells and (digit, 32) in cells
    ]
    if pairs:
        st.markdown(
            ngettext(
                "Measured here on MNIST, by −ELBO: the 2-D code found the left-out digit better "
                "than the 32-D code for {better} of the {count} digit measured with both.",
                "Measured here on MNIST, by −ELBO: the 2-D code found the left-out digit better "
                "than the 32-D code for {better} of the {count} digits measured with both.",
                len(pairs),
            ).format(better=sum(two > many for two, many in pairs), count=len(pairs))
        )
    if (1, 32) in cells:
        st.markdown(
            _(
                "MNIST's 1s are the clearest trap, here and in the thesis: a 1 is easy to "
                "rebuild whatever the model saw, so with the 32-D code, by −ELBO, the left-out "
                "1s score **{ours:.2f}** here and {theirs:.2f} published."
            ).format(ours=cells[1, 32]["auc_elbo"], theirs=odd_one_out.TONNAER[32][1])
            + (
                _(" Below 0.5: the odd ones look more normal than the normal ones.")
                if cells[1, 32]["auc_elbo"] < 0.5
                else ""
            )
        )
    st.caption(
        _(
            "On MNIST, the area under the ROC curve for each digit left out of training (1: "
            "every odd image scores above every normal one; 0.5: a coin). Measured here: a VAE "
            "of the shipped "
            "architecture, {epochs} epochs on MNIST's training images without the digit, scored "
            "on the 10,000 test images by reconstruction error (what this page uses) and by "
            "negative ELBO (the published score). Published: Tonnaer's PhD thesis (TU "
            "Eindhoven), table 3.3, VAEs with 2-D and 32-D codes scored by their ELBO."
        ).format(epochs=recipe["epochs"])
    )
