"""The Inside page's two experiments: a linear autoencoder beside PCA (the same subspace, the
same error), and pretraining an encoder without labels before a classifier learns from a few."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.cluster import tasks
from core.cluster.client import EngineUnavailable
from core.ml import inside
from core.ml.data import ALL_IMAGES
from core.ml.pca import load_pca
from ui import images, resources, services, session, words

LABEL_COUNTS = [10, 100, 1000]
FEW_LABELS_WAIT = 180.0  # Seconds: a worker's start-up, plus a queue of experiments.


@st.cache_data(show_spinner="Comparing the linear autoencoder with PCA...")
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
    st.header("The linear autoencoder and PCA")
    st.markdown(
        "With no activation functions and a squared-error loss, an autoencoder can only "
        "learn a linear projection, and the best one is PCA's. It need not find the principal "
        "components themselves, only the space they span."
    )
    found = linear_and_pca(session.current_dataset())
    count = len(found["directions"])
    left, right = st.columns(2)
    left.image(
        images.grid(inside.scaled_images(found["directions"][:16]), columns=8, size=56),
        caption="16 of the linear decoder's directions (rows of its weight matrix)",
        width="stretch",
    )
    right.image(
        images.grid(inside.scaled_images(found["components"][:16]), columns=8, size=56),
        caption="The first 16 principal components",
        width="stretch",
    )
    angles = found["angles"]
    frame = pd.concat(
        [
            pd.DataFrame(
                {"pair": np.arange(1, count + 1), "angle (degrees)": values, "subspaces": label}
            )
            for label, values in (
                ("linear decoder vs PCA", angles),
                ("random directions vs PCA (for scale)", found["random_angles"]),
            )
        ]
    )
    st.altair_chart(
        alt.Chart(frame, title=f"Principal angles between {count}-D subspaces")
        .mark_line(point=True)
        .encode(
            x=alt.X("pair:Q", title="angle number (smallest first)"),
            y=alt.Y("angle (degrees):Q", scale=alt.Scale(domain=[0, 90])),
            color=alt.Color("subspaces:N", title=None),
        )
        .properties(height=240),
        width="stretch",
    )
    cols = st.columns(3)
    cols[0].metric("Largest principal angle", f"{angles.max():.2f}°")
    cols[1].metric("Linear AE test MSE", f"{found['linear_mse']:.5f}")
    cols[2].metric(f"PCA-{count} test MSE", f"{found['pca_mse']:.5f}")
    st.caption(
        "Angles near 0° mean the decoder's directions span the same space as the principal "
        "components, even though each direction on its own mixes several components."
    )


@st.cache_data(show_spinner=False, max_entries=64)
def few_labels(name: str, labelled: int, seed: int, dataset: str) -> dict[str, float]:
    """Computed by a training worker, which has the training images loaded; the same
    question gets the same answer, so every session shares it."""
    return services.engine().call(
        tasks.few_labels, name, labelled, seed, dataset, timeout=FEW_LABELS_WAIT
    )


def pretraining_ui() -> None:
    noun = session.dataset().noun
    st.header("Pretraining with few labels")
    st.markdown(
        f"The autoencoder learned its code from {ALL_IMAGES:,} {noun}s **without labels**. "
        "Suppose only a handful are labelled: train one softmax layer on the raw pixels, on "
        "the frozen encoder's code, or on the encoder fine-tuned along with it, and measure "
        f"accuracy on the 10,000 test {noun}s."
    )
    left, middle, right = st.columns(3)
    labelled = left.segmented_control(
        "Labelled images", LABEL_COUNTS, default=100, key="inside_labels", required=True
    )
    name = middle.selectbox(
        "Encoder", ["deep", "tied"], format_func=words.title, key="inside_encoder"
    )
    seed = right.number_input("Seed", 0, 99, 0, key="inside_seed")
    results = st.session_state.setdefault("inside_few_labels", {})
    engine = services.engine()
    if engine is None or engine.error:
        st.caption(
            ":material/cloud_off: This experiment runs in a training worker, and none can be "
            "reached right now; the other sections work as usual."
        )
    if st.button(
        "Run",
        type="primary",
        icon=":material/play_arrow:",
        key="inside_run",
        disabled=engine is None or bool(engine.error),
    ):
        with st.spinner(
            f"Training three classifiers on {labelled} labelled {noun}s, in a training worker "
            "(if none is running, starting one takes about 10 s)..."
        ):
            try:
                dataset = session.current_dataset()
                results[(name, labelled, int(seed))] = few_labels(
                    name, labelled, int(seed), dataset
                )
            except EngineUnavailable:
                st.warning(
                    "The training cluster cannot be reached right now; try again later.",
                    icon=":material/cloud_off:",
                )
            except TimeoutError:
                st.warning(
                    "The training workers are busy with runs; try again when one ends.",
                    icon=":material/hourglass_top:",
                )
    if not results:
        st.info("Choose how many labels and press Run (a few seconds).", icon=":material/school:")
        return
    rows = [
        {"encoder": words.title(n), "labelled": k, "seed": s, "method": method, "accuracy": acc}
        for (n, k, s), scores in results.items()
        for method, acc in scores.items()
    ]
    frame = pd.DataFrame(rows)
    table = frame.pivot_table(
        index=["encoder", "labelled", "seed"], columns="method", values="accuracy"
    ).reset_index()
    st.dataframe(table, hide_index=True, placeholder=words.MISSING)
    st.altair_chart(
        alt.Chart(frame, title="Test accuracy")
        .mark_bar()
        .encode(
            x=alt.X("method:N", title=None),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])),
            color="method:N",
            column=alt.Column("labelled:O", title="labelled images"),
        )
        .properties(width=140, height=220),
    )
