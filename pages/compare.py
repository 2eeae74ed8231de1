"""Compare: every variant's measured test metrics, and the same digits reconstructed by all."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.i18n import _
from core.ml import variants
from ui import actions, images, resources, services, session, words
from ui.boot import ensure_navigation

# The frames' columns: English keys (tests read them); `columns()` shows them translated.
SIZE = "code size"  # i18n: not shown
BCE = "BCE per pixel"  # i18n: not shown
MSE = "MSE per pixel"  # i18n: not shown
SECONDS = "training time (s)"  # i18n: not shown


def code_size(name: str) -> int:
    """Numbers in a shipped model's code, from the model itself (older cards lack it): for a
    conditional VAE, its style and the class its decoder is given (its reconstructions here
    carry the class its head names), so equal sizes stay a fair comparison."""
    model = resources.pretrained_model(name)
    return model.code_size + model.classes


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
                "variant": words.title(name),  # The card's title, in the reader's language.
                SIZE: code_size(name),
                "parameters": info.get("parameters"),
                BCE: measured.get("bce"),
                MSE: measured.get("mse"),
                "PSNR (dB)": measured.get("psnr_db"),
                "epochs": info["training"].get("epochs_completed"),
                SECONDS: info["training"].get("seconds"),
            }
        )
        if "pca_mse" in measured:
            rows.append(
                {
                    "variant": _("PCA ({components} components)").format(
                        components=code_size(name)
                    ),
                    SIZE: code_size(name),
                    "parameters": None,
                    BCE: None,
                    MSE: measured["pca_mse"],
                    "PSNR (dB)": None,
                    "epochs": None,
                    SECONDS: None,
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
                "variant": _("{variant} (your run {id})").format(
                    variant=words.title(run.variant), id=run.id
                ),
                SIZE: found["code_size"] + variants.get(run.variant).classes,
                "parameters": found.get("parameters"),
                BCE: found.get("bce"),
                MSE: found.get("mse"),
                "PSNR (dB)": found.get("psnr_db"),
                "epochs": run.epochs_done,
                SECONDS: run.seconds,
            }
        )
    return pd.DataFrame(rows)


def columns() -> dict:
    """The tables' columns: their English keys (the frames'), the headers shown translated."""
    number = st.column_config.NumberColumn
    return {
        "variant": _("variant"),
        SIZE: number(_("code size"), format="%d"),
        "parameters": number(_("parameters"), format="localized"),
        BCE: number(_("BCE per pixel"), format="%.4f"),
        MSE: number(_("MSE per pixel"), format="%.4f"),
        "PSNR (dB)": number(_("PSNR (dB)"), format="%.1f"),
        "epochs": _("epochs"),
        SECONDS: number(_("training time (s)"), format="%.0f"),
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
        column_config=columns(),
        placeholder=MISSING,
    )


def floor_caption(dataset: str) -> None:
    st.caption(
        _(
            "BCE cannot go below {floor:.3f} nats on these images: their own grey pixels are "
            "uncertain (the mean pixel entropy), so read BCE as its distance above that floor; "
            "MSE has no such floor."
        ).format(floor=resources.bce_floor(dataset))
    )


def fair_ui(shipped: pd.DataFrame) -> None:
    """The comparison at one code size: shipped models and the student's own runs."""
    st.subheader(_("At equal code size"))
    st.markdown(
        _(
            "A bigger code makes reconstruction easier: the sparse models keep 64 or 128 "
            "numbers, the denoising one 1,568, the VAE only 2. Compare variants that keep the "
            "**same number** of numbers. Race one variant at several code sizes, or several "
            "variants at one, and your runs join the table."
        )
    )
    frame = pd.concat([shipped, own_rows()], ignore_index=True)
    counts = frame[SIZE].value_counts()
    sizes = sorted(int(size) for size in counts.index)
    best = int(counts.idxmax())  # The size most models share (32 for the shipped ones).
    size = st.segmented_control(
        _("Code size"), sizes, default=best, key="fair_code_size", required=True
    )
    same = frame[frame[SIZE] == size].sort_values(MSE)
    table(same)
    if len(same) < 2:
        st.caption(
            _(
                "Only one model keeps this many numbers: train or race another variant with "
                "this code size to compare it fairly."
            )
        )


def main() -> None:
    found = session.dataset()
    st.title(_("Compare variants"))
    dataset, noun = words.dataset_title(found.name), _(found.noun)
    if session.on_upload():
        own_ui(dataset, noun)
        return
    st.markdown(
        _(
            "Every shipped model measured on the 10,000 {dataset} test images (numbers from "
            "each model's card, written by `python -m core.evaluate`), and the same eight test "
            "{noun}s reconstructed by each of them."
        ).format(dataset=dataset, noun=noun)
    )
    shipped = metrics_table()
    if shipped.empty:
        st.warning(_("No trained models were found for {dataset}.").format(dataset=dataset))
        return
    table(shipped)
    floor_caption(found.name)
    chart = (
        alt.Chart(shipped.dropna(subset=[MSE]), title=_("Test MSE per pixel (lower is better)"))
        .mark_bar()
        .encode(
            x=alt.X(f"{MSE}:Q", title=_("MSE per pixel")),
            y=alt.Y(
                "variant:N",  # i18n: not shown
                sort="x",
                title=None,
                axis=alt.Axis(labelLimit=260),
            ),
            # Four code sizes a row: in one row the last ones ran off a 360-pixel phone.
            color=alt.Color(
                f"{SIZE}:O",
                scale=alt.Scale(scheme="viridis"),
                legend=alt.Legend(
                    title=_("code size"), orient="bottom", direction="horizontal", columns=4
                ),
            ),
            tooltip=[
                alt.Tooltip("variant", title=_("variant")),
                alt.Tooltip(SIZE, title=_("code size")),
                alt.Tooltip(f"{MSE}:Q", title=_("MSE per pixel"), format=".4f"),
            ],
        )
        .properties(height=28 * len(shipped))  # Room for every variant's label.
    )
    # The element's height given outright: left to "content", Streamlit drew the plot ~40
    # pixels tall and Vega dropped most of the variants' labels.
    st.altair_chart(chart, width="stretch", height=34 * len(shipped) + 170)
    fair_ui(shipped)

    st.subheader(_("The same eight test {noun}s").format(noun=noun))
    st.caption(
        # Translators: the source text (docs/GLOSSARY.md, "Which chapter teaches what")
        _(
            "Source text: chapter 15 “自编码器” (Autoencoders), section “可视化重建” "
            "(Visualizing reconstructions)"
        )
    )
    digits = resources.sample_digits()
    st.image(images.strip(digits, size=64), caption=_("Originals"))
    for name in resources.shipped_names():
        reconstructions = resources.pretrained_model(name)(digits)
        st.image(images.strip(reconstructions, size=64), caption=words.title(name))


def own_ui(dataset: str, noun: str) -> None:
    """Compare on an upload: the lab ships no model for it, so the student's own runs on it,
    measured on its test images when each finished, side by side."""
    st.markdown(
        _(
            "Your finished runs on {dataset}, each measured on its test images when it "
            "finished, and the same test images reconstructed by each of them."
        ).format(dataset=dataset)
    )
    frame = own_rows()
    if frame.empty:
        st.info(
            _(
                "Your runs on {dataset} appear here once one has finished: train or race a "
                "few variants on it."
            ).format(dataset=dataset),
            icon=":material/compare:",
        )
        services.train_link()
        return
    table(frame.sort_values(MSE))
    floor_caption(session.current_dataset())
    # Not "At equal code size": its words are about the shipped models; the table has each
    # run's code size.
    st.subheader(_("The same eight test {noun}s").format(noun=noun))
    digits = resources.sample_digits()
    st.image(images.strip(digits, size=64), caption=_("Originals"))
    finished = [run for run in actions.my_runs(dataset=session.current_dataset())
                if run.status == "finished"]  # fmt: skip
    for run in finished[:8]:  # The newest eight: a page of pictures, not a scroll of them.
        try:
            model = resources.run_model(run)
        except resources.NotServable:
            continue
        st.image(
            images.strip(model(digits), size=64),
            caption=f"{words.title(run.variant)} · {words.run_label(run)}",
        )
    if len(finished) > 8:
        st.caption(_("Your newest eight runs of {count}.").format(count=len(finished)))


ensure_navigation()
services.guarded(
    main,
    _(
        "Your runs cannot be reached right now; the pretrained models on the other pages work "
        "as usual."
    ),
)
