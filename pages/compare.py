"""Compare: every variant's measured test metrics, and the same digits reconstructed by all."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import variants
from ui import images, state
from ui.boot import ensure_navigation


def metrics_table() -> pd.DataFrame:
    """One row per shipped model from its card, plus PCA at the linear model's code size."""
    rows = []
    for name in variants.names():
        info = state.card(name)
        if not info:
            continue
        measured = info.get("metrics", {})
        rows.append(
            {
                "variant": info["title"],
                "BCE per pixel": measured.get("bce"),
                "MSE per pixel": measured.get("mse"),
                "PSNR (dB)": measured.get("psnr_db"),
                "parameters": info.get("parameters"),
                "epochs": info["training"].get("epochs_completed"),
                "training time (s)": info["training"].get("seconds"),
            }
        )
        if name == "linear" and "pca_mse" in measured:
            pca_mse = measured["pca_mse"]
            rows.append(
                {
                    "variant": f"PCA ({info['config']['code_size']} components)",
                    "BCE per pixel": None,
                    "MSE per pixel": pca_mse,
                    "PSNR (dB)": None,
                    "parameters": None,
                    "epochs": None,
                    "training time (s)": None,
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    st.title("Compare variants")
    st.markdown(
        "Every shipped model measured on the 10,000 MNIST test images (numbers from each "
        "model's card, written by `python -m core.evaluate`), and the same eight test digits "
        "reconstructed by each of them."
    )
    table = metrics_table()
    if table.empty:
        st.warning("No trained models were found in trained/.")
        return
    st.dataframe(
        table,
        hide_index=True,
        height=(len(table) + 1) * 35 + 3,  # Every row visible: no scrolling inside the table.
        width="stretch",
        column_config={
            "BCE per pixel": st.column_config.NumberColumn(format="%.4f"),
            "MSE per pixel": st.column_config.NumberColumn(format="%.4f"),
            "PSNR (dB)": st.column_config.NumberColumn(format="%.1f"),
            "parameters": st.column_config.NumberColumn(format="localized"),
            "training time (s)": st.column_config.NumberColumn(format="%.0f"),
        },
    )
    chart = (
        alt.Chart(
            table.dropna(subset=["MSE per pixel"]), title="Test MSE per pixel (lower is better)"
        )
        .mark_bar()
        .encode(
            x=alt.X("MSE per pixel:Q"),
            y=alt.Y("variant:N", sort="x", title=None),
            tooltip=["variant", alt.Tooltip("MSE per pixel:Q", format=".4f")],
        )
        .properties(height=28 * len(table))  # Room for every variant's label.
    )
    st.altair_chart(chart, width="stretch")

    st.subheader("The same eight test digits")
    digits = state.sample_digits()
    st.image(images.strip(digits, size=64), caption="Originals")
    for name in variants.names():
        reconstructions = np.asarray(state.pretrained_model(name)(digits, training=False))
        st.image(images.strip(reconstructions, size=64), caption=state.title(name))


ensure_navigation()
main()
