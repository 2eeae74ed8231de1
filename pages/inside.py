"""Inside: what the shipped autoencoders learned, made visible (features, sparsity, copying,
contraction, the linear autoencoder against PCA, pretraining with few labels, and the VQ-VAE's
codebook)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.i18n import _
from core.ml import inside, variants
from ui import codebook_view, images, resources, services, session, sidebar, words
from ui.boot import ensure_navigation
from ui.copying import (
    copying_ui,
)
from ui.experiments import pca_ui, pretraining_ui
from ui.probes import digit_picker, encoding, test_codes

SPARSE_MODELS = ["vanilla", "sparse_l1", "sparse_kl"]  # The first without a penalty.
CONTRACTION_MODELS = ["contractive", "contractive_twin", "vanilla"]


# Features --------------------------------------------------------------------------------


def features_ui() -> None:
    st.header(_("Features: what the first layer looks for"))
    names = resources.shipped_names()
    current = sidebar.current_variant()
    name = st.selectbox(
        _("Variant"),
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
        caption = _(
            "The {count} filters of the first convolution ({size}x{size} pixels each, "
            "enlarged). Each slides over the image and responds to one small pattern: an edge "
            "or a corner at some angle."
        ).format(count=len(filters), size=filters.shape[-1])
    else:
        picture = images.grid(shown, columns=8, size=size)
        caption = _(
            "{shown} of the {total} first-layer units, each weight vector drawn as a 28x28 "
            "image (bright: this pixel excites the unit, dark: it inhibits it). Compare the "
            "variants: the penalties and the depth change what a unit looks for."
        ).format(shown=len(shown), total=len(filters))
    st.image(picture, caption=caption, width="stretch")
    if model.classes:  # Its encoder meets the image first in the head that names its class.
        st.caption(_("For the conditional VAE these are its classifier head's units."))
    st.caption(
        _(
            "Source text: chapter 15 “自编码器” (Autoencoders), section “可视化功能” (Visualizing "
            "features)"
        )
    )

    with encoding():
        values = test_codes(name, session.current_dataset())
    values = values[:, : values.shape[1] - model.classes]  # A conditional VAE's style only.
    noun = _(session.dataset().noun)
    unit = st.slider(
        _("Code unit"),
        0,
        values.shape[1] - 1,
        0,
        key=f"inside_unit_{name}",
        help=_("One number of the code; the test {noun}s that make it largest are shown.").format(
            noun=noun
        ),
    )
    top = inside.top_activating(values, unit, 12)
    data = resources.test_set()
    st.image(
        images.strip(data.images(top)[..., 0], size=56),
        caption=_(
            "The 12 test {noun}s that activate code unit {unit} most (values {high:.2f} to "
            "{low:.2f})"
        ).format(noun=noun, unit=unit, high=values[top[0], unit], low=values[top[-1], unit]),
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
    with encoding():
        measured = {
            name: inside.sparsity(test_codes(name, session.current_dataset()))
            for name in SPARSE_MODELS
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
        _(
            "A sparse autoencoder is penalised for code activity, to make fewer of its units "
            "fire for any one {noun}. Below: every code value over the 10,000 test {noun}s, "
            "without a penalty (vanilla) and with each of the two."
        ).format(noun=_(noun))
    )
    st.caption(_(variants.get("sparse_kl").source))  # Its chapters teach sparsity.
    # The target of a model whose config has one (the KL-sparse model's rho).
    targets = {name: getattr(variants.make_config(name), "rho", None) for name in SPARSE_MODELS}
    rho = next(value for value in targets.values() if value is not None)
    for column, name in zip(st.columns(len(SPARSE_MODELS)), SPARSE_MODELS, strict=True):
        stats = measured[name]
        with column:
            st.subheader(words.title(name))
            st.metric(_("Activations near zero"), f"{stats.near_zero:.0%}")
            st.metric(_("Mean activation"), f"{stats.mean:.3f}")
            centres = (stats.edges[:-1] + stats.edges[1:]) / 2
            frame = pd.DataFrame({"activation": centres, "count": stats.histogram})
            st.altair_chart(
                alt.Chart(frame, title=_("Histogram of code values"))
                .mark_bar()
                .encode(
                    # Translators: the histogram's axes: a code value, and how many there are.
                    x=alt.X("activation:Q", title=_("activation")),
                    y=alt.Y("count:Q", title=_("count"), scale=alt.Scale(type="symlog")),
                )
                .properties(height=180),
                width="stretch",
            )
            units = pd.DataFrame(
                {"unit": np.arange(len(stats.mean_per_unit)), "mean": stats.mean_per_unit}
            )
            # Translators: the axis of a unit's mean activation over the test set.
            mean = _("mean")
            chart = (
                alt.Chart(units, title=_("Mean activation per unit"))
                .mark_bar()
                .encode(x=alt.X("unit:O", axis=None), y=alt.Y("mean:Q", title=mean))
            )
            if targets[name] is not None:
                rule = alt.Chart(pd.DataFrame({"rho": [rho]})).mark_rule(color="#ff3b30")
                chart = chart + rule.encode(y=alt.Y("rho:Q", title=mean))
            st.altair_chart(chart.properties(height=180), width="stretch")
    st.caption(
        _(
            "Red line: the KL model's target ρ = {rho}. 'Near zero' means below {near_zero:.0%} "
            "of the model's own large activations (their 99th percentile), since the codes "
            "differ in scale; the last bar of each histogram also counts the few values above "
            "its range. The L1 penalty pushes activations towards zero; the KL penalty pushes "
            "each unit's average firing rate towards ρ."
        ).format(rho=rho, near_zero=inside.NEAR_ZERO)
    )


# Undercomplete versus overcomplete -------------------------------------------------------


# Contraction -----------------------------------------------------------------------------


def contraction_ui() -> None:
    noun = session.dataset().noun
    st.header(_("Contraction: a code that ignores small changes"))
    st.markdown(
        _(
            "The contractive autoencoder is penalised for the squared Frobenius norm ‖J‖² of "
            "the Jacobian of its code with respect to its input. Add small random noise to a "
            "{noun} and see how far each model's code moves."
        ).format(noun=_(noun))
    )
    st.caption(_(variants.get("contractive").source))  # Its chapters teach the penalty.
    left, right = st.columns(2)
    with left:
        _picked, digit = digit_picker("inside_contraction_digit")
    with right:
        sigma = st.select_slider(
            _("Noise standard deviation"),
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
    # Fixed decimals: Streamlit drops trailing zeros, and 3.558 stood beside 25.5301. The
    # columns are data keys (English); the headers shown are their translated labels.
    shift, ratio, norm = list(rows[0])[1:]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        placeholder=words.MISSING,
        column_config={
            "model": st.column_config.Column(_("model")),
            shift: st.column_config.NumberColumn(_("mean code shift ‖Δh‖"), format="%.4f"),
            ratio: st.column_config.NumberColumn(format="%.4f"),
            norm: st.column_config.NumberColumn(
                _("‖J‖² at this {noun}").format(noun=_(noun)), format="%.2f"
            ),
        },
    )
    st.caption(
        _(
            "64 random perturbations. The contractive model and its twin are the same network "
            "(sigmoid code of 64 units), trained with and without the penalty; vanilla has a "
            "32-unit ReLU code, so compare it by the ratio and ‖J‖² rather than the raw shift."
        )
    )


# Linear autoencoder and PCA --------------------------------------------------------------


# Pretraining with few labels -------------------------------------------------------------


def section_names() -> dict[str, str]:
    """Each section's name as the reader sees it, by its value (English: tests, links and
    session_state know the values)."""
    return {
        "Features": _("Features"),
        "Sparse codes": _("Sparse codes"),
        "Copying": _("Copying"),
        "Contraction": _("Contraction"),
        "Linear and PCA": _("Linear and PCA"),
        "Few labels": _("Few labels"),
        "Codebook": _("Codebook"),
    }


def main() -> None:
    st.title(_("Inside the autoencoder"))
    if session.on_upload():
        services.shipped_models_only()
        return
    # The intro names the dataset: every text below follows it, so no banner warns any more
    # that they were written for the digits.
    st.markdown(
        _(
            "What did the shipped models learn from {dataset}? Each section below looks inside "
            "them: their features, how sparse their codes are, whether they copy, how much their "
            "code moves, how the linear one relates to PCA, what their code is worth to a "
            "classifier that has only a few labels, and the VQ-VAE's dictionary of codes."
        ).format(dataset=_(session.dataset().title))
    )
    sections = {
        "Features": features_ui,
        "Sparse codes": sparse_ui,
        "Copying": copying_ui,
        "Contraction": contraction_ui,
        "Linear and PCA": pca_ui,
        "Few labels": pretraining_ui,
        "Codebook": codebook_view.codebook_ui,
    }
    names = section_names()
    chosen = st.segmented_control(
        _("Section"),
        list(sections),
        default="Features",
        format_func=names.get,
        key="inside_section",
        required=True,
    )
    sections[chosen]()


ensure_navigation()
services.guarded(
    main,
    _(
        "Your runs cannot be reached right now; the pretrained models on the other pages work "
        "as usual."
    ),
)
