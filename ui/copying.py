"""Inside's copying experiment: an unconstrained overcomplete autoencoder against constrained
ones (a narrow code, a sparsity penalty, noise) on noise, blank and test inputs, with the
figures' caption stated from the measured table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.i18n import _
from core.ml import data as datasets
from core.ml import inside
from ui import images, resources, session, words
from ui.probes import digit_picker

# The copying experiment's models: the unconstrained overcomplete one first, then those a
# constraint (a narrow code, a sparsity penalty, noise) keeps from copying.
PROBE_MODELS = ["overcomplete", "vanilla", "sparse_l1", "denoising"]


OVERCOMPLETE = PROBE_MODELS[0]


# The noise table's columns are data keys (English, whatever the reader's language); the
# headers a reader sees are their labels, translated where the table is drawn.
def test_mse_column(noun: str) -> str:
    return f"MSE on test {noun}s"  # i18n: not shown (a data key)


@st.cache_data(show_spinner=False)
def noise_table(dataset: str) -> pd.DataFrame:
    """Each probe model's copying of pure noise; "model" holds variant names (the titles are
    the reader's language: they are put in where the table is shown, not in the cache)."""
    noun = datasets.get(dataset).noun
    rows = []
    for name in PROBE_MODELS:
        card = resources.card(name) or {}
        mse, correlation = inside.noise_copying(resources.pretrained_model(name))
        rows.append(
            {
                "model": name,
                "code size": str((card.get("config") or {}).get("code_size", "7x7x32")),
                "noise let through (correlation)": correlation,
                "MSE on pure noise": mse,
                test_mse_column(noun): (card.get("metrics") or {}).get("mse"),
            }
        )
    return pd.DataFrame(rows)


def copying_caption(table: pd.DataFrame, noun: str) -> str:
    """What the noise table shows, stated from its figures: the overcomplete model against
    the undercomplete and sparse ones (its claims once were MNIST's, on both datasets).
    `table` is noise_table's, by variant name; `noun` the dataset's, in English."""
    rows = table.set_index("model")
    through = rows["noise let through (correlation)"]
    over = through[OVERCOMPLETE]
    constrained = through[["vanilla", "sparse_l1"]].max()
    test_mse = rows[test_mse_column(noun)]
    best = test_mse.idxmin() == OVERCOMPLETE
    figures = {
        "noun": _(noun),
        "best_mse": test_mse.min(),
        "over": over,
        "constrained": constrained,
        "times": over / constrained,
    }
    # One whole sentence for each case: whether the overcomplete network also copies test
    # images best, and whether it lets noise through far more than the constrained ones.
    if best and over > 2 * constrained:
        text = _(
            "Over 200 images of uniform noise. Correlation 1 would be a perfect copy and 0 an "
            "output unrelated to the input. Trained only on {noun}s, the overcomplete network "
            "copies test {noun}s best (MSE {best_mse:.4f}) and lets noise through at a "
            "correlation of {over:.2f}, about {times:.0f} times the undercomplete and sparse "
            "ones ({constrained:.2f} at most): they answer noise with what they learned of "
            "{noun}s."
        )
    elif best:
        text = _(
            "Over 200 images of uniform noise. Correlation 1 would be a perfect copy and 0 an "
            "output unrelated to the input. Trained only on {noun}s, the overcomplete network "
            "copies test {noun}s best (MSE {best_mse:.4f}) and lets noise through at a "
            "correlation of {over:.2f}; the undercomplete and sparse ones at most "
            "{constrained:.2f}."
        )
    elif over > 2 * constrained:
        text = _(
            "Over 200 images of uniform noise. Correlation 1 would be a perfect copy and 0 an "
            "output unrelated to the input. Trained only on {noun}s, the overcomplete network "
            "lets noise through at a correlation of {over:.2f}, about {times:.0f} times the "
            "undercomplete and sparse ones ({constrained:.2f} at most): they answer noise with "
            "what they learned of {noun}s."
        )
    else:
        text = _(
            "Over 200 images of uniform noise. Correlation 1 would be a perfect copy and 0 an "
            "output unrelated to the input. Trained only on {noun}s, the overcomplete network "
            "lets noise through at a correlation of {over:.2f}; the undercomplete and sparse "
            "ones at most {constrained:.2f}."
        )
    text = text.format(**figures)
    denoiser = through.get("denoising")
    if denoiser is not None:
        # Translators: appended to the caption's last sentence. The leading space separates
        # English sentences; Chinese, after its full stop, needs none.
        text += _(
            " The convolutional denoiser lets through {denoiser:.2f}: its filters see small "
            "patches, and keep some of their texture."
        ).format(denoiser=denoiser)
    return text


def copying_ui() -> None:
    noun = session.dataset().noun
    said = _(noun)
    st.header(_("Undercomplete versus overcomplete: learning, or copying?"))
    st.markdown(
        _(
            "An autoencoder with **more** code units than pixels and no other constraint can "
            "pass its input through instead of learning what {noun}s share. Feed each model "
            "pure noise, a blank image and a {noun}: the unconstrained overcomplete one hands "
            "back much of whatever it gets; the undercomplete and sparse ones can only answer "
            "with something made of what they learned from {noun}s."
        ).format(noun=said)
    )
    st.caption(
        _(
            "Source text: chapter 10 “使用自编码器重构输入” (Reconstructing inputs using "
            "autoencoders), section “了解自编码器的架构” (Understanding the architecture of "
            "autoencoders)"
        )
    )
    _picked, digit = digit_picker("inside_probe_digit")
    probes = inside.probe_images(digit)
    batch = np.stack(list(probes.values()))
    header = st.columns([1.4, 1, 1, 1])
    header[0].markdown(_("**model**"))
    # core names the probes "noise", "blank" and "digit" (the third whatever the dataset).
    captions = {
        "noise": _("input: noise"),
        "blank": _("input: blank"),
        "digit": _("input: {noun}").format(noun=said),
    }
    for column, (label, image) in zip(header[1:], probes.items(), strict=True):
        column.image(images.to_pil(image, 84), caption=captions.get(label, label))
    for name in PROBE_MODELS:
        outputs = resources.pretrained_model(name)(batch)
        errors = ((outputs - batch) ** 2).reshape(len(batch), -1).mean(axis=1)
        row = st.columns([1.4, 1, 1, 1])
        row[0].markdown(f"**{words.title(name)}**")
        for column, output, error in zip(row[1:], outputs, errors, strict=True):
            column.image(images.to_pil(output, 84), caption=f"MSE {error:.3f}")
    with st.spinner(_("Feeding noise to each model...")):
        table = noise_table(session.current_dataset())
    st.dataframe(
        table.assign(model=table["model"].map(words.title)),
        hide_index=True,
        placeholder=words.MISSING,
        column_config={
            "model": st.column_config.Column(_("model")),
            "code size": st.column_config.Column(_("code size")),
            "noise let through (correlation)": st.column_config.NumberColumn(
                _("noise let through (correlation)"), format="%.2f"
            ),
            "MSE on pure noise": st.column_config.NumberColumn(
                _("MSE on pure noise"), format="%.4f"
            ),
            test_mse_column(noun): st.column_config.NumberColumn(
                _("MSE on test {noun}s").format(noun=said), format="%.4f"
            ),
        },
    )
    st.caption(copying_caption(table, noun))
