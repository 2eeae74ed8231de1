"""Session-wide choices (variant, model source) and the models they select.

The variant lives in `st.session_state` and in the URL (`?variant=conv`), so a teacher can send
a link that opens the same view. Pretrained models are loaded once per server process and
shared read-only; a model trained by a user lives only in that user's session.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core import cards, variants
from ui.boot import keep_keras_caches

keep_keras_caches()  # Streamlit would otherwise clear TensorFlow's caches after every run.


def freeze_heap() -> None:
    """Exclude everything loaded so far from Python's cyclic garbage collector.

    Importing TensorFlow and Keras leaves millions of long-lived objects that every full
    collection scanned again, pausing Streamlit's event loop: a trivial slider page went from
    78 ms (p50) to ~400 ms per move once Keras was imported, and back to 75 ms after
    `gc.freeze()`. Called after the imports and after each shared model or dataset is loaded.
    """
    gc.freeze()


freeze_heap()

VARIANT = "variant"
SOURCE = "model_source"
SESSION_MODELS = "session_models"  # variant name -> TrainResult of this session
PRETRAINED, SESSION = "Pretrained", "Trained in this session"


def title(name: str) -> str:
    return variants.get(name).title


@st.cache_resource(show_spinner="Loading the pretrained model...")
def pretrained_model(name: str):
    """The shipped model `name`, loaded once for the whole server and never modified."""
    model = cards.load_model(name)
    model.trainable = False  # A guard: nothing in the app may fit a shared model.
    freeze_heap()
    return model


@dataclass(frozen=True)
class TestSet:
    x_test: np.ndarray  # (10000, 28, 28, 1) float32 in [0, 1]
    y_test: np.ndarray  # (10000,) digit labels


# Bounded: session-trained models come and go; an evicted entry just gets traced again.
@st.cache_resource(show_spinner=False, max_entries=64)
def _compiled(_model, model_id: int):
    from core.serving import compiled_call

    return compiled_call(_model)


def fast(model):
    """The compiled call of `model` (see core.serving), made once per model object."""
    return _compiled(model, id(model))


@st.cache_resource(show_spinner="Loading MNIST...")
def test_set() -> TestSet:
    """The 10,000 MNIST test images, once per server process and read-only.

    Only the test set: the pages never need the 55,000 training images (170 MB as floats),
    which the training process loads for itself.
    """
    from core.data import load_mnist, to_images

    _, (x_test, y_test) = load_mnist()
    images = to_images(x_test)
    images.setflags(write=False)
    freeze_heap()
    return TestSet(images, y_test)


def sample_digits(count: int = 8) -> np.ndarray:
    """The first test image of each digit 0..count-1: the same fixed digits on every page."""
    data = test_set()
    indices = [int((data.y_test == digit).argmax()) for digit in range(count)]
    return data.x_test[indices]


@st.cache_data(show_spinner=False)
def card(name: str) -> dict | None:
    """The shipped model's card (metrics measured by core.evaluate), or None."""
    return cards.load_card(name)


def _mirror_to_url() -> None:
    st.query_params[VARIANT] = st.session_state[VARIANT]


def variant_picker() -> str:
    """The sidebar's variant select box, seeded from `?variant=` and mirrored back to it.

    The URL holds the registry name (`?variant=conv`), so a teacher's link opens the same
    view. Streamlit's own widget binding would put the display title in the URL instead.
    """
    names = variants.names()
    if VARIANT not in st.session_state:  # This session's first run: the link decides.
        asked = st.query_params.get(VARIANT)
        st.session_state[VARIANT] = asked if asked in names else names[0]
        st.session_state["variant_link_invalid"] = asked is not None and asked not in names
    if st.query_params.get(VARIANT) != st.session_state[VARIANT]:
        _mirror_to_url()  # Page switches drop query parameters; keep the link shareable.
    name = st.sidebar.selectbox(
        "Autoencoder variant", names, key=VARIANT, format_func=title, on_change=_mirror_to_url
    )
    if st.session_state.pop("variant_link_invalid", False):
        # The user's text is not echoed back: it came from a URL anyone could have crafted.
        st.sidebar.warning(
            f"The link asked for a variant this lab does not have; showing {title(name)}.",
            icon=":material/link_off:",
        )
    return name


def session_result(name: str):
    """This session's trained result for `name`, or None."""
    return st.session_state.get(SESSION_MODELS, {}).get(name)


def store_session_result(name: str, result) -> None:
    st.session_state.setdefault(SESSION_MODELS, {})[name] = result


def source_picker(name: str) -> str:
    """Pretrained or this session's model; the latter only once the user trained one."""
    trained = session_result(name) is not None
    options = [PRETRAINED, SESSION] if trained else [PRETRAINED]
    if st.session_state.get(SOURCE) not in options:
        st.session_state[SOURCE] = PRETRAINED
    choice = st.sidebar.radio("Model", options, key=SOURCE, horizontal=True)
    if not trained:
        st.sidebar.caption("Train this variant on the Train page to compare with your own model.")
    return choice


def current_model(name: str, source: str):
    """The model the pages should use for `name` under the chosen source."""
    if source == SESSION and session_result(name) is not None:
        return session_result(name).model
    return pretrained_model(name)


def metric_line(metrics: dict) -> str:
    """The card's key figures in one short line."""
    parts = []
    if "negative_elbo" in metrics:
        parts.append(f"-ELBO {metrics['negative_elbo']:.1f} nats")
    if "bce" in metrics:
        parts.append(f"BCE {metrics['bce']:.4f}")
    if "mse" in metrics:
        parts.append(f"MSE {metrics['mse']:.4f}")
    if "psnr_db" in metrics:
        parts.append(f"PSNR {metrics['psnr_db']:.1f} dB")
    return " · ".join(parts)


def explain(name: str) -> None:
    """Its test metrics in one line, and a paragraph on what makes the variant learn."""
    variant = variants.get(name)
    info = card(name)
    if info and info.get("metrics"):
        st.sidebar.caption(f"Test set: {metric_line(info['metrics'])}")
    with st.sidebar.expander(f"About {variant.title}", expanded=False):
        st.write(variant.summary)
        if info:
            training = info["training"]
            st.caption(
                f"{info['parameters']:,} parameters · trained {training['epochs_completed']} "
                f"epochs in {training['seconds']:.0f} s"
            )


def sidebar() -> tuple[str, str]:
    """The shared sidebar: variant, its explanation, and the model source."""
    name = variant_picker()
    explain(name)
    source = source_picker(name)
    return name, source


def current_variant() -> str:
    """The variant chosen in the sidebar (app.py draws the sidebar before every page)."""
    return st.session_state.get(VARIANT) or variants.names()[0]


def current_source() -> str:
    return st.session_state.get(SOURCE, PRETRAINED)


@st.cache_resource(show_spinner=False)
def limits():
    """The server's limits (`core.limits`), read once from secrets and the environment.

    Streamlit copies root-level entries of `.streamlit/secrets.toml` into `os.environ` at
    start-up, so a value in the secrets file wins over one exported in the shell.
    """
    import logging
    import os

    from core.limits import Limits

    secrets = st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}
    found, problems = Limits.read(secrets, os.environ)
    for problem in problems:  # For the operator's log; students need not see it.
        logging.getLogger("autoencoder_lab").warning(problem)
    return found


def session_alive():
    """A callable telling whether this browser session is still connected (None in tests)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None or not Runtime.exists():
        return None
    runtime, session_id = Runtime.instance(), context.session_id
    return lambda: runtime.is_active_session(session_id)
