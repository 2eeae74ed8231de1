"""Inside: what the shipped autoencoders learned, made visible (features, sparsity, copying,
contraction, the linear autoencoder against PCA, and pretraining with few labels)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.ml import data as datasets
from core.ml import inside, variants
from ui import images, resources, session, sidebar, words
from ui.boot import ensure_navigation
from ui.experiments import pca_ui, pretraining_ui

PROBE_MODELS = ["overcomplete", "vanilla", "sparse_l1", "denoising"]
SPARSE_MODELS = ["vanilla", "sparse_l1", "sparse_kl"]  # The first without a penalty.
CONTRACTION_MODELS = ["contractive", "contractive_twin", "vanilla"]


@st.cache_data(show_spinner="Encoding the 10,000 test images...", max_entries=16)
def test_codes(name: str, dataset: str) -> np.ndarray:
    return inside.codes(resources.pretrained_model(name), resources.test_set().x_test)


def digit_picker(key: str) -> tuple[str, np.ndarray]:
    """The user's last input on the Draw page if there is one, else a test image they
    choose. (The name and the widget keys stay: tests and links know them.)"""
    data = resources.test_set()
    found = session.dataset()
    choices = [f"Test {found.noun} {label}" for label in found.labels]
    drawing = session.last_input()
    mine = session.last_input_label()
    if drawing is not None:
        choices.insert(0, mine)
    choice = st.selectbox(f"Input {found.noun}", choices, key=key)
    if choice == mine:
        return choice, np.asarray(drawing, np.float32)
    label = choices.index(choice) - (1 if drawing is not None else 0)
    return choice, data.images(int((data.y_test == label).argmax()))[..., 0]


# Features --------------------------------------------------------------------------------


def features_ui() -> None:
    st.header("Features: what the first layer looks for")
    names = resources.shipped_names()
    current = sidebar.current_variant()
    name = st.selectbox(
        "Variant",
        names,
        index=names.index(current) if current in names else 0,
        format_func=words.title,
        key="inside_features_variant",
    )
    model = resources.pretrained_model(name)
    filters = inside.first_layer_filters(model)
    shown = filters[:32]
    size = 56 if filters.shape[-1] == 28 else 42  # Conv filters are tiny: 3x3 pixels.
    if filters.shape[-1] != 28:
        picture = images.grid(_upscaled(shown, 28), columns=8, size=size)
        caption = (
            f"The {len(filters)} filters of the first convolution ({filters.shape[-1]}x"
            f"{filters.shape[-1]} pixels each, enlarged). Each slides over the image and "
            "responds to one small pattern: an edge or a corner at some angle."
        )
    else:
        picture = images.grid(shown, columns=8, size=size)
        caption = (
            f"{len(shown)} of the {len(filters)} first-layer units, each weight vector drawn as "
            "a 28x28 image (bright: this pixel excites the unit, dark: it inhibits it). "
            "Compare the variants: the penalties and the depth change what a unit looks for."
        )
    st.image(picture, caption=caption, width="stretch")

    values = test_codes(name, session.current_dataset())
    unit = st.slider(
        "Code unit",
        0,
        values.shape[1] - 1,
        0,
        key=f"inside_unit_{name}",
        help=f"One number of the code; the test {session.dataset().noun}s that make it "
        "largest are shown.",
    )
    top = inside.top_activating(values, unit, 12)
    data = resources.test_set()
    st.image(
        images.strip(data.images(top)[..., 0], size=56),
        caption=f"The 12 test {session.dataset().noun}s that activate code unit {unit} most "
        f"(values {values[top[0], unit]:.2f} to {values[top[-1], unit]:.2f})",
    )


def _upscaled(filters: np.ndarray, size: int) -> np.ndarray:
    """Small filters enlarged to size x size by repeating pixels, for images.grid."""
    factor = max(1, size // filters.shape[-1])
    big = filters.repeat(factor, axis=1).repeat(factor, axis=2)
    padded = np.zeros((len(filters), size, size), np.float32)
    padded[:, : big.shape[1], : big.shape[2]] = big[:, :size, :size]
    return padded


# Sparse codes ----------------------------------------------------------------------------


def sparse_ui() -> None:
    noun = session.dataset().noun
    measured = {
        name: inside.sparsity(test_codes(name, session.current_dataset())) for name in SPARSE_MODELS
    }
    # The headline states the measurement: it once said "most units off" over 13%.
    st.header(
        words.sparse_headline(
            [measured[name].near_zero for name in SPARSE_MODELS[1:]],
            measured[SPARSE_MODELS[0]].near_zero,
            noun,
        )
    )
    st.markdown(
        "A sparse autoencoder is penalised for code activity, to make fewer of its units fire "
        f"for any one {noun}. Below: every code value over the 10,000 test {noun}s, without a "
        "penalty (vanilla) and with each of the two."
    )
    # The target of a model whose config has one (the KL-sparse model's rho).
    targets = {name: getattr(variants.make_config(name), "rho", None) for name in SPARSE_MODELS}
    rho = next(value for value in targets.values() if value is not None)
    for column, name in zip(st.columns(len(SPARSE_MODELS)), SPARSE_MODELS, strict=True):
        stats = measured[name]
        with column:
            st.subheader(words.title(name))
            st.metric("Activations near zero", f"{stats.near_zero:.0%}")
            st.metric("Mean activation", f"{stats.mean:.3f}")
            centres = (stats.edges[:-1] + stats.edges[1:]) / 2
            frame = pd.DataFrame({"activation": centres, "count": stats.histogram})
            st.altair_chart(
                alt.Chart(frame, title="Histogram of code values")
                .mark_bar()
                .encode(x="activation:Q", y=alt.Y("count:Q", scale=alt.Scale(type="symlog")))
                .properties(height=180),
                width="stretch",
            )
            units = pd.DataFrame(
                {"unit": np.arange(len(stats.mean_per_unit)), "mean": stats.mean_per_unit}
            )
            chart = (
                alt.Chart(units, title="Mean activation per unit")
                .mark_bar()
                .encode(x=alt.X("unit:O", axis=None), y="mean:Q")
            )
            if targets[name] is not None:
                rule = alt.Chart(pd.DataFrame({"rho": [rho]})).mark_rule(color="#ff3b30")
                chart = chart + rule.encode(y="rho:Q")
            st.altair_chart(chart.properties(height=180), width="stretch")
    st.caption(
        f"Red line: the KL model's target ρ = {rho}. 'Near zero' means below "
        f"{inside.NEAR_ZERO:.0%} of the model's own large activations (their 99th "
        "percentile), since the codes differ in scale; the last bar of each histogram also "
        "counts the few values above its range. The L1 penalty pushes activations towards "
        "zero; the KL penalty pushes each unit's average firing rate towards ρ."
    )


# Undercomplete versus overcomplete -------------------------------------------------------


def test_mse_column(noun: str) -> str:
    return f"MSE on test {noun}s"


@st.cache_data(show_spinner="Feeding noise to each model...")
def noise_table(dataset: str) -> pd.DataFrame:
    noun = datasets.get(dataset).noun
    rows = []
    for name in PROBE_MODELS:
        card = resources.card(name) or {}
        mse, correlation = inside.noise_copying(resources.pretrained_model(name))
        rows.append(
            {
                "model": words.title(name),
                "code size": str((card.get("config") or {}).get("code_size", "7x7x32")),
                "noise let through (correlation)": correlation,
                "MSE on pure noise": mse,
                test_mse_column(noun): (card.get("metrics") or {}).get("mse"),
            }
        )
    return pd.DataFrame(rows)


def copying_caption(table: pd.DataFrame, noun: str) -> str:
    """What the noise table shows, stated from its figures: the overcomplete model against
    the undercomplete and sparse ones (its claims once were MNIST's, on both datasets)."""
    rows = table.set_index("model")
    through = rows["noise let through (correlation)"]
    over = through[words.title("overcomplete")]
    constrained = through[[words.title(name) for name in ("vanilla", "sparse_l1")]].max()
    test_mse = rows[test_mse_column(noun)]
    best = test_mse.idxmin() == words.title("overcomplete")
    text = (
        "Over 200 images of uniform noise. Correlation 1 would be a perfect copy and 0 an "
        f"output unrelated to the input. Trained only on {noun}s, the overcomplete network "
        + (f"copies test {noun}s best (MSE {test_mse.min():.4f}) and " if best else "")
        + f"lets noise through at a correlation of {over:.2f}"
    )
    if over > 2 * constrained:
        text += (
            f", about {over / constrained:.0f} times the undercomplete and sparse ones "
            f"({constrained:.2f} at most): they answer noise with what they learned of {noun}s."
        )
    else:
        text += f"; the undercomplete and sparse ones at most {constrained:.2f}."
    denoiser = through.get(words.title("denoising"))
    if denoiser is not None:
        text += (
            f" The convolutional denoiser lets through {denoiser:.2f}: its filters see small "
            "patches, and keep some of their texture."
        )
    return text


def copying_ui() -> None:
    noun = session.dataset().noun
    st.header("Undercomplete versus overcomplete: learning, or copying?")
    st.markdown(
        "An autoencoder with **more** code units than pixels and no other constraint can "
        f"pass its input through instead of learning what {noun}s share. Feed each model pure "
        f"noise, a blank image and a {noun}: the unconstrained overcomplete one hands back "
        "much of whatever it gets; the undercomplete and sparse ones can only answer with "
        f"something made of what they learned from {noun}s."
    )
    _, digit = digit_picker("inside_probe_digit")
    probes = inside.probe_images(digit)
    batch = np.stack(list(probes.values()))
    header = st.columns([1.4, 1, 1, 1])
    header[0].markdown("**model**")
    for column, (label, image) in zip(header[1:], probes.items(), strict=True):
        # core names the third probe "digit" whatever the dataset.
        shown = noun if label == "digit" else label
        column.image(images.to_pil(image, 84), caption=f"input: {shown}")
    for name in PROBE_MODELS:
        outputs = resources.pretrained_model(name)(batch)
        errors = ((outputs - batch) ** 2).reshape(len(batch), -1).mean(axis=1)
        row = st.columns([1.4, 1, 1, 1])
        row[0].markdown(f"**{words.title(name)}**")
        for column, output, error in zip(row[1:], outputs, errors, strict=True):
            column.image(images.to_pil(output, 84), caption=f"MSE {error:.3f}")
    number = st.column_config.NumberColumn(format="%.4f")
    table = noise_table(session.current_dataset())
    st.dataframe(
        table,
        hide_index=True,
        placeholder=words.MISSING,
        column_config={
            "noise let through (correlation)": st.column_config.NumberColumn(format="%.2f"),
            "MSE on pure noise": number,
            test_mse_column(noun): number,
        },
    )
    st.caption(copying_caption(table, noun))


# Contraction -----------------------------------------------------------------------------


def contraction_ui() -> None:
    noun = session.dataset().noun
    st.header("Contraction: a code that ignores small changes")
    st.markdown(
        "The contractive autoencoder is penalised for the squared Frobenius norm ‖J‖² of the "
        f"Jacobian of its code with respect to its input. Add small random noise to a {noun} "
        "and see how far each model's code moves."
    )
    left, right = st.columns(2)
    with left:
        _, digit = digit_picker("inside_contraction_digit")
    with right:
        sigma = st.select_slider(
            "Noise standard deviation",
            [0.01, 0.02, 0.05, 0.1, 0.2],
            value=0.05,
            key="inside_sigma",
        )
    rows = []
    for name in CONTRACTION_MODELS:
        model = resources.pretrained_model(name)
        shift, ratio = inside.code_shift(model, digit, sigma)
        rows.append(
            {
                "model": words.title(name),
                "mean code shift ‖Δh‖": shift,
                "‖Δh‖ / ‖Δx‖": ratio,
                f"‖J‖² at this {noun}": inside.jacobian_norm(model, digit),
            }
        )
    # Fixed decimals: Streamlit drops trailing zeros, and 3.558 stood beside 25.5301.
    shift, ratio, norm = list(rows[0])[1:]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        placeholder=words.MISSING,
        column_config={
            shift: st.column_config.NumberColumn(format="%.4f"),
            ratio: st.column_config.NumberColumn(format="%.4f"),
            norm: st.column_config.NumberColumn(format="%.2f"),
        },
    )
    st.caption(
        "64 random perturbations. The contractive model and its twin are the same network "
        "(sigmoid code of 64 units), trained with and without the penalty; vanilla has a "
        "32-unit ReLU code, so compare it by the ratio and ‖J‖² rather than the raw shift."
    )


# Linear autoencoder and PCA --------------------------------------------------------------


# Pretraining with few labels -------------------------------------------------------------


def main() -> None:
    st.title("Inside the autoencoder")
    # The intro names the dataset: every text below follows it, so no banner warns any more
    # that they were written for the digits.
    st.markdown(
        f"What did the shipped models learn from {session.dataset().title}? Each section below "
        "looks inside them: their features, how sparse their codes are, whether they copy, how "
        "much their code moves, how the linear one relates to PCA, and what their code is "
        "worth to a classifier that has only a few labels."
    )
    sections = {
        "Features": features_ui,
        "Sparse codes": sparse_ui,
        "Copying": copying_ui,
        "Contraction": contraction_ui,
        "Linear and PCA": pca_ui,
        "Few labels": pretraining_ui,
    }
    chosen = st.segmented_control(
        "Section", list(sections), default="Features", key="inside_section", required=True
    )
    sections[chosen]()


ensure_navigation()
main()
