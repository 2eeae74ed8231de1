"""Compare: every variant's measured test metrics, and the same digits reconstructed by all."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.ml import variants
from ui import actions, images, resources, session, words
from ui.boot import ensure_navigation


def code_size(name: str) -> int:
    """Numbers in a shipped model's code, from the model itself (older cards lack it)."""
    return resources.pretrained_model(name).code_size


def metrics_table() -> pd.DataFrame:
    """One row per shipped model from its card, plus PCA at the linear model's code size."""
    rows = []
    for name in variants.names():
        info = resources.card(name)
        if not info:
            continue
        measured = info.get("metrics", {})
        rows.append(
            {
                "variant": info["title"],
                "code size": code_size(name),
                "parameters": info.get("parameters"),
                "BCE per pixel": measured.get("bce"),
                "MSE per pixel": measured.get("mse"),
                "PSNR (dB)": measured.get("psnr_db"),
                "epochs": info["training"].get("epochs_completed"),
                "training time (s)": info["training"].get("seconds"),
            }
        )
        if "pca_mse" in measured:
            rows.append(
                {
                    "variant": f"PCA ({code_size(name)} components)",
                    "code size": code_size(name),
                    "parameters": None,
                    "BCE per pixel": None,
                    "MSE per pixel": measured["pca_mse"],
                    "PSNR (dB)": None,
                    "epochs": None,
                    "training time (s)": None,
                }
            )
    return pd.DataFrame(rows)


def own_rows() -> pd.DataFrame:
    """The student's finished runs on this dataset (races included), as comparison rows."""
    rows = []
    for run in actions.my_runs(dataset=session.current_dataset()):
        found = run.metrics or {}
        if run.status != "finished" or "code_size" not in found:
            continue
        rows.append(
            {
                "variant": f"{words.title(run.variant)} (your run {run.id})",
                "code size": found["code_size"],
                "parameters": found.get("parameters"),
                "BCE per pixel": found.get("bce"),
                "MSE per pixel": found.get("mse"),
                "PSNR (dB)": found.get("psnr_db"),
                "epochs": run.epochs_done,
                "training time (s)": run.seconds,
            }
        )
    return pd.DataFrame(rows)


COLUMNS = {
    "BCE per pixel": st.column_config.NumberColumn(format="%.4f"),
    "MSE per pixel": st.column_config.NumberColumn(format="%.4f"),
    "PSNR (dB)": st.column_config.NumberColumn(format="%.1f"),
    "parameters": st.column_config.NumberColumn(format="localized"),
    "code size": st.column_config.NumberColumn(format="%d"),
    "training time (s)": st.column_config.NumberColumn(format="%.0f"),
}

# What a cell without a value shows (PCA has no parameters, epochs or BCE): ui.words.MISSING,
# a dash; Streamlit's own placeholder is the word "None", which reads as a measurement.
MISSING = words.MISSING


def table(frame: pd.DataFrame) -> None:
    st.dataframe(
        frame,
        hide_index=True,
        height=(len(frame) + 1) * 35 + 3,  # Every row visible: no scrolling inside the table.
        width="stretch",
        column_config=COLUMNS,
        placeholder=MISSING,
    )


def fair_ui(shipped: pd.DataFrame) -> None:
    """The comparison at one code size: shipped models and the student's own runs."""
    st.subheader("At equal code size")
    st.markdown(
        "A bigger code makes reconstruction easier: the sparse models keep 64 or 128 numbers, "
        "the denoising one 1,568, the VAE only 2. Compare variants that keep the **same "
        "number** of numbers. Race one variant at several code sizes, or several variants at "
        "one, and your runs join the table."
    )
    frame = pd.concat([shipped, own_rows()], ignore_index=True)
    counts = frame["code size"].value_counts()
    sizes = sorted(int(size) for size in counts.index)
    best = int(counts.idxmax())  # The size most models share (32 for the shipped ones).
    size = st.segmented_control(
        "Code size", sizes, default=best, key="fair_code_size", required=True
    )
    same = frame[frame["code size"] == size].sort_values("MSE per pixel")
    table(same)
    if len(same) < 2:
        st.caption(
            "Only one model keeps this many numbers: train or race another variant with "
            "this code size to compare it fairly."
        )


def main() -> None:
    found = session.dataset()
    st.title("Compare variants")
    st.markdown(
        f"Every shipped model measured on the 10,000 {found.title} test images (numbers from "
        "each model's card, written by `python -m core.evaluate`), and the same eight test "
        f"{found.noun}s reconstructed by each of them."
    )
    shipped = metrics_table()
    if shipped.empty:
        st.warning(f"No trained models were found for {found.title}.")
        return
    table(shipped)
    st.caption(
        f"BCE cannot go below {resources.bce_floor(found.name):.3f} nats on these images: their "
        "own grey pixels are uncertain (the mean pixel entropy), so read BCE as its distance "
        "above that floor; MSE has no such floor."
    )
    chart = (
        alt.Chart(
            shipped.dropna(subset=["MSE per pixel"]), title="Test MSE per pixel (lower is better)"
        )
        .mark_bar()
        .encode(
            x=alt.X("MSE per pixel:Q"),
            y=alt.Y("variant:N", sort="x", title=None, axis=alt.Axis(labelLimit=260)),
            # Four code sizes a row: in one row the last ones ran off a 360-pixel phone.
            color=alt.Color(
                "code size:O",
                scale=alt.Scale(scheme="viridis"),
                legend=alt.Legend(orient="bottom", direction="horizontal", columns=4),
            ),
            tooltip=[
                "variant",
                "code size",
                alt.Tooltip("MSE per pixel:Q", format=".4f"),
            ],
        )
        .properties(height=28 * len(shipped))  # Room for every variant's label.
    )
    # The element's height given outright: left to "content", Streamlit drew the plot ~40
    # pixels tall and Vega dropped most of the variants' labels.
    st.altair_chart(chart, width="stretch", height=34 * len(shipped) + 170)
    fair_ui(shipped)

    st.subheader(f"The same eight test {found.noun}s")
    digits = resources.sample_digits()
    st.image(images.strip(digits, size=64), caption="Originals")
    for name in resources.shipped_names():
        reconstructions = resources.pretrained_model(name)(digits)
        st.image(images.strip(reconstructions, size=64), caption=words.title(name))


ensure_navigation()
main()
