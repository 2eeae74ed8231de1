"""A race's results as the Race page shows them: the racers' colours, the held-out MSE after each
epoch in one chart, the same eight test images reconstructed by each racer after an epoch, and
the table of test metrics."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.i18n import _
from ui import images, resources, services, words

# Streamlit's named text colours (for the racers' lines above the chart) and the chart's
# matching hues, so a racer's dot and its curve agree.
COLOURS = [("violet", "#803df5"), ("orange", "#ff8700"), ("blue", "#1c83e1"), ("green", "#21c354")]


def chart(runs, labels, epochs_by_run) -> None:
    rows = [
        (label, epoch.epoch, epoch.logs["val_mse"])
        for run, label in zip(runs, labels, strict=True)
        for epoch in epochs_by_run[run.id]
        # The untrained network's error dwarfs the rest: the race starts after epoch 1.
        if "val_mse" in epoch.logs and epoch.epoch > 0
    ]
    if not rows:
        st.caption(_("The curves appear as the racers finish their first epochs."))
        return
    frame = pd.DataFrame(rows, columns=["racer", "epoch", "MSE"])
    # The title as text, not in the chart: Vega cuts a long title short on a phone.
    st.markdown(_("**Reconstruction MSE per pixel of held-out images, after each epoch**"))
    scale = alt.Scale(domain=labels, range=[hue for _name, hue in COLOURS[: len(labels)]])
    figure = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title=_("epoch"), axis=alt.Axis(tickMinStep=1)),  # i18n: not shown
            y=alt.Y("MSE:Q", title=None, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "racer:N",  # i18n: not shown
                scale=scale,
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[
                alt.Tooltip("racer:N", title=_("racer")),  # i18n: not shown
                alt.Tooltip("epoch:Q", title=_("epoch")),  # i18n: not shown
                alt.Tooltip("MSE:Q", format=".4f"),
            ],
        )
        .properties(height=300)
    )
    st.altair_chart(figure, width="stretch")


def digits_ui(race_id, runs, labels, epochs_by_run, live: bool) -> None:
    """The same eight test images, and each racer's reconstructions after one epoch."""
    opened = services.live_store()
    done = sorted({epoch.epoch for run in runs for epoch in epochs_by_run[run.id]})
    if not done:
        return
    pick = done[-1]
    if not live and len(done) > 1:
        pick = st.select_slider(_("After epoch"), done, value=done[-1], key=f"race_epoch_{race_id}")
    st.image(images.strip(resources.sample_digits(runs[0].dataset), size=56))
    st.caption(
        _("The same eight test images (top), and each racer's after epoch {epoch}").format(
            epoch=pick
        )
    )
    for run, label in zip(runs, labels, strict=True):
        found = opened.samples(run.id, min(pick, run.epochs_done))
        if found is not None:
            st.image(images.strip(found, size=56), caption=label)


def results_ui(runs, labels) -> None:
    rows = []
    for run, label in zip(runs, labels, strict=True):
        found = run.metrics or {}
        rows.append(
            {
                "racer": label,
                "run": run.id,
                "code size": found.get("code_size"),  # i18n: not shown
                "parameters": found.get("parameters"),
                "test MSE": found.get("mse"),  # i18n: not shown
                "test BCE": found.get("bce"),  # i18n: not shown
                "PSNR (dB)": found.get("psnr_db"),
                "training (s)": round(run.seconds, 1),
            }
        )
    number = st.column_config.NumberColumn
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        placeholder=words.MISSING,
        # The columns keep their English keys; their headers are shown translated.
        column_config={
            "racer": _("racer"),
            "run": number(_("run"), format="%d"),
            "code size": _("code size"),  # i18n: not shown
            "parameters": number(_("parameters"), format="localized"),
            "test MSE": number(_("test MSE"), format="%.4f"),  # i18n: not shown
            "test BCE": number(_("test BCE"), format="%.4f"),  # i18n: not shown
            "PSNR (dB)": number(_("PSNR (dB)"), format="%.1f"),
            "training (s)": _("training (s)"),
        },
    )
    floor = resources.bce_floor(runs[0].dataset)
    st.caption(
        _(
            "Test BCE cannot go below {floor:.3f} nats on these images (their pixel entropy)."
        ).format(floor=floor)
    )
    sizes = {row["code size"] for row in rows if row["code size"]}  # i18n: not shown
    if len(sizes) > 1 and len({run.variant for run in runs}) > 1:
        st.caption(
            _(
                ":material/balance: These racers have codes of different sizes: a bigger code "
                "makes reconstruction easier, so compare at equal code size before calling a "
                "variant better (race one setting, code size, to see how much it matters)."
            )
        )
