"""The Inside page's two experiments: a linear autoencoder beside PCA (the same subspace, the
same error), and pretraining an encoder without labels before a classifier learns from a few."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.cluster import tasks
from core.cluster.client import EngineUnavailable
from core.i18n import _, ngettext
from core.ml import inside, variants
from core.ml.data import ALL_IMAGES
from core.ml.pca import load_pca
from ui import images, resources, services, session, words

LABEL_COUNTS = [10, 100, 1000]
FEW_LABELS_WAIT = 180.0  # Seconds: a worker's start-up, plus a queue of experiments.


@st.cache_data(show_spinner=False)  # The caller's spinner: in the reader's language.
def linear_and_pca(dataset: str) -> dict:
    model = resources.pretrained_model("linear")
    directions = inside.decoder_directions(model)
    # Fitted once on the training images and shipped (`python -m core.ml.pca`): the server never
    # loads the 55,000 training images.
    pca = load_pca(components=len(directions), dataset=dataset)
    x_test = resources.test_set().x_test
    linear_out = model(x_test)
    return {
        "directions": directions,
        "components": pca.components,
        "angles": inside.principal_angles(directions, pca.components),
        "random_angles": inside.principal_angles(
            np.random.default_rng(0).standard_normal(directions.shape), pca.components
        ),
        "linear_mse": float(((linear_out - x_test) ** 2).mean()),
        "pca_mse": float(((pca.reconstruct(x_test) - x_test) ** 2).mean()),
    }


def pca_ui() -> None:
    st.header(_("The linear autoencoder and PCA"))
    st.markdown(
        _(
            "With no activation functions and a squared-error loss, an autoencoder can only "
            "learn a linear projection, and the best one is PCA's. It need not find the "
            "principal components themselves, only the space they span."
        )
    )
    st.caption(_(variants.get("linear").source))  # The linear variant's: this very lesson.
    with st.spinner(_("Comparing the linear autoencoder with PCA...")):
        found = linear_and_pca(session.current_dataset())
    count = len(found["directions"])
    left, right = st.columns(2)
    left.image(
        images.grid(inside.scaled_images(found["directions"][:16]), columns=8, size=56),
        caption=_("16 of the linear decoder's directions (rows of its weight matrix)"),
        width="stretch",
    )
    right.image(
        images.grid(inside.scaled_images(found["components"][:16]), columns=8, size=56),
        caption=_("The first 16 principal components"),
        width="stretch",
    )
    angles = found["angles"]
    frame = pd.concat(
        [
            pd.DataFrame(
                {"pair": np.arange(1, count + 1), "angle (degrees)": values, "subspaces": label}
            )
            for label, values in (
                # Translators: the principal-angles chart's legend.
                (_("linear decoder vs PCA"), angles),
                (_("random directions vs PCA (for scale)"), found["random_angles"]),
            )
        ]
    )
    st.altair_chart(
        alt.Chart(
            frame, title=_("Principal angles between {count}-D subspaces").format(count=count)
        )
        .mark_line(point=True)
        .encode(
            x=alt.X("pair:Q", title=_("angle number (smallest first)")),
            y=alt.Y(
                "angle (degrees):Q",
                title=_("angle (degrees)"),
                scale=alt.Scale(domain=[0, 90]),
            ),
            color=alt.Color("subspaces:N", title=None),
        )
        .properties(height=240),
        width="stretch",
    )
    cols = st.columns(3)
    cols[0].metric(_("Largest principal angle"), f"{angles.max():.2f}°")
    cols[1].metric(_("Linear AE test MSE"), f"{found['linear_mse']:.5f}")
    cols[2].metric(_("PCA-{count} test MSE").format(count=count), f"{found['pca_mse']:.5f}")
    st.caption(
        _(
            "Angles near 0° mean the decoder's directions span the same space as the principal "
            "components, even though each direction on its own mixes several components."
        )
    )


@st.cache_data(show_spinner=False, max_entries=64)
def few_labels(name: str, labelled: int, seed: int, dataset: str) -> dict[str, float]:
    """Computed by a training worker, which has the training images loaded; the same
    question gets the same answer, so every session shares it."""
    return services.engine().call(
        tasks.few_labels, name, labelled, seed, dataset, timeout=FEW_LABELS_WAIT
    )


def pretraining_ui() -> None:
    noun = _(session.dataset().noun)
    st.header(_("Pretraining with few labels"))
    st.markdown(
        _(
            "The autoencoder learned its code from {images:,} {noun}s **without labels**. "
            "Suppose only a handful are labelled: train one softmax layer on the raw pixels, on "
            "the frozen encoder's code, or on the encoder fine-tuned along with it, and measure "
            "accuracy on the 10,000 test {noun}s."
        ).format(images=ALL_IMAGES, noun=noun)
    )
    st.caption(
        _(
            "Source text: chapter 15 “自编码器” (Autoencoders), section "
            "“无监督预训练使用栈式自编码器” (Unsupervised pretraining using stacked autoencoders)"
        )
    )
    left, middle, right = st.columns(3)
    labelled = left.segmented_control(
        _("Labelled images"), LABEL_COUNTS, default=100, key="inside_labels", required=True
    )
    name = middle.selectbox(
        _("Encoder"), ["deep", "tied"], format_func=words.title, key="inside_encoder"
    )
    seed = right.number_input(_("Seed"), 0, 99, 0, key="inside_seed")
    results = st.session_state.setdefault("inside_few_labels", {})
    engine = services.engine()
    if engine is None or engine.error:
        st.caption(
            _(
                ":material/cloud_off: This experiment runs in a training worker, and none can "
                "be reached right now; the other sections work as usual."
            )
        )
    if st.button(
        # "Run experiment", not "Run": a run is a training (the runs table's "Run", 任务).
        _("Run experiment"),
        type="primary",
        icon=":material/play_arrow:",
        key="inside_run",
        disabled=engine is None or bool(engine.error),
    ):
        with st.spinner(
            ngettext(
                "Training three classifiers on {labelled} labelled {noun}, in a training "
                "worker (if none is running, starting one takes about 10 s)...",
                "Training three classifiers on {labelled} labelled {noun}s, in a training "
                "worker (if none is running, starting one takes about 10 s)...",
                labelled,
            ).format(labelled=labelled, noun=noun)
        ):
            try:
                dataset = session.current_dataset()
                results[(name, labelled, int(seed))] = few_labels(
                    name, labelled, int(seed), dataset
                )
            except EngineUnavailable:
                st.warning(
                    _("The training cluster cannot be reached right now; try again later."),
                    icon=":material/cloud_off:",
                )
            except TimeoutError:
                st.warning(
                    _("The training workers are busy with runs; try again when one ends."),
                    icon=":material/hourglass_top:",
                )
    if not results:
        st.info(
            _("Choose how many labels and press Run experiment (a few seconds)."),
            icon=":material/school:",
        )
        return
    rows = [
        {
            "encoder": words.title(n),
            "labelled": k,
            "seed": s,
            # The method as the table's header and the chart's label say it (the results'
            # keys are English, marked N_() in core.ml.few_labels).
            "method": _(method),
            "accuracy": acc,
        }
        for (n, k, s), scores in results.items()
        for method, acc in scores.items()
    ]
    frame = pd.DataFrame(rows)
    table = frame.pivot_table(
        index=["encoder", "labelled", "seed"], columns="method", values="accuracy"
    ).reset_index()
    st.dataframe(
        table,
        hide_index=True,
        placeholder=words.MISSING,
        # Translators: the few-labels table's column headers.
        column_config={
            "encoder": st.column_config.Column(_("encoder")),
            "labelled": st.column_config.Column(_("labelled")),
            "seed": st.column_config.Column(_("seed")),
        },
    )
    st.altair_chart(
        alt.Chart(frame, title=_("Test accuracy"))
        .mark_bar()
        .encode(
            x=alt.X("method:N", title=None),
            y=alt.Y("accuracy:Q", title=_("accuracy"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("method:N", title=_("method")),
            column=alt.Column("labelled:O", title=_("labelled images")),
        )
        .properties(width=140, height=220),
    )
