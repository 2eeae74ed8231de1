"""Session-wide choices (variant, model source) and the models they select.

The variant lives in `st.session_state` and in the URL (`?variant=conv`), so a teacher can send
a link that opens the same view. Pretrained models are loaded once per server process and
shared read-only. A student's runs live in the store (`core.store`) and belong to the link
that carries their token (`?me=...`), not to one browser session.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.ml import cards, data, variants
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
MODEL = "model_choice"  # "pretrained" or a run id of this student's
PRETRAINED = "pretrained"
LINK = "me"  # The query parameter that carries the student's link token.
CHOOSE = "choose_model"  # A model choice waiting for the sidebar's next run.
MODEL_LINK = "model"  # The query parameter of the chosen run, so a reload keeps it.
STUDENT = "student"
CLASS_LINK = "class"  # The student link's query parameter: a class code.
JOINED = "joined_code"  # The class code this session joined with (not joined twice).
LESSON = "lesson"
DATASET = "dataset"  # The session's dataset, mirrored in the URL as ?data=fashion.
DATASET_LINK = "data"


@dataclass(frozen=True)
class ModelRef:
    """A model the pages use, with its stable identity: every cache keys on `key`, never on
    `id()` (CPython reuses the addresses of freed objects)."""

    key: str  # "shipped:<name>", or "run-<uid>@<epoch of its weights>"
    model: object
    label: str
    run_id: int | None = None  # The student's run it is, if it is one.


@dataclass(frozen=True)
class Student:
    id: int
    token: str


def title(name: str) -> str:
    return variants.get(name).title


@st.cache_resource(show_spinner="Loading the pretrained model...")
def _pretrained_model(name: str, dataset: str):
    model = cards.load_model(name, dataset=dataset)
    model.trainable = False  # A guard: nothing in the app may fit a shared model.
    freeze_heap()
    return model


def pretrained_model(name: str, dataset: str | None = None):
    """The shipped model `name` of the session's dataset (or `dataset`), loaded once for the
    whole server and never modified."""
    return _pretrained_model(name, dataset or current_dataset())


@dataclass(frozen=True)
class TestSet:
    x_test: np.ndarray  # (10000, 28, 28, 1) float32 in [0, 1]
    y_test: np.ndarray  # (10000,) digit labels


def pretrained(name: str, dataset: str | None = None) -> ModelRef:
    dataset = dataset or current_dataset()
    key = f"shipped:{name}" if dataset == "mnist" else f"shipped:{dataset}/{name}"
    return ModelRef(key, pretrained_model(name, dataset), "Pretrained")


# Bounded: students' models come and go; an evicted entry just gets traced again.
@st.cache_resource(show_spinner=False, max_entries=64)
def _compiled(_model, key: str):
    from core.ml.serving import compiled_call

    return compiled_call(_model)


def fast(model, key: str):
    """The compiled call of `model` (see core.ml.serving), made once per model identity `key`
    (a ModelRef's key, with the part's name for an encoder or decoder)."""
    return _compiled(model, key)


@st.cache_resource(show_spinner="Loading the test images...")
def _test_set(dataset: str) -> TestSet:
    _, (x_test, y_test) = data.load(dataset)
    images = data.to_images(x_test)
    images.setflags(write=False)
    freeze_heap()
    return TestSet(images, y_test)


def test_set(dataset: str | None = None) -> TestSet:
    """The 10,000 test images of the session's dataset, once per server process, read-only.

    Only the test set: the pages never need the 55,000 training images (170 MB as floats),
    which the training process loads for itself.
    """
    return _test_set(dataset or current_dataset())


def sample_digits(dataset: str | None = None) -> np.ndarray:
    """The first test image of each class 0..7: the same fixed images on every page and run."""
    from core.ml.data import sample_indices

    found = test_set(dataset)
    return found.x_test[sample_indices(found.y_test)]


@st.cache_data(show_spinner=False)
def _card(name: str, dataset: str) -> dict | None:
    return cards.load_card(name, dataset=dataset)


def card(name: str, dataset: str | None = None) -> dict | None:
    """The shipped model's card (metrics measured by core.ml.evaluate), or None."""
    return _card(name, dataset or current_dataset())


def shipped_names() -> list[str]:
    """The variants with a shipped model on the session's dataset, in teaching order: a
    partly trained `trained/fashion/` leaves the others out instead of failing a page."""
    return [name for name in variants.names() if card(name) is not None]


@st.cache_data(show_spinner=False)
def bce_floor(dataset: str) -> float:
    """The lowest mean BCE any model reaches on the dataset's test images (their mean pixel
    entropy: core.ml.metrics.bce_floor)."""
    from core.ml import metrics

    return metrics.bce_floor(test_set(dataset).x_test)


def current_dataset() -> str:
    """The session's dataset ("mnist" or "fashion"), as the sidebar chose it."""
    return st.session_state.get(DATASET) or "mnist"


def dataset() -> data.Dataset:
    return data.get(current_dataset())


def run_dataset(run) -> str:
    return run.settings.get("train", {}).get("dataset", "mnist")


def dataset_problem(name: str) -> str | None:
    """Why dataset `name` cannot be used on this server, or None: its files, and its
    shipped models (which every page but Train needs)."""
    missing = data.available(name)
    if missing:
        return missing
    if _card(variants.names()[0], name) is None:  # Cached: this runs on every page.
        return (
            f"The pretrained {data.get(name).title} models are missing from "
            f"{cards.folder(None, name)}; train them with "
            f"`python -m core.train all --dataset {name}`."
        )
    return None


def _mirror_dataset() -> None:
    st.query_params[DATASET_LINK] = st.session_state[DATASET]


def dataset_picker() -> str:
    """The sidebar's dataset choice, seeded from `?data=` and mirrored back to it. A dataset
    this server lacks is refused with how to get it; the session stays on the other."""
    names = list(data.DATASETS)
    if DATASET not in st.session_state:
        asked = st.query_params.get(DATASET_LINK)
        st.session_state[DATASET] = asked if asked in names else names[0]
    problem = dataset_problem(st.session_state[DATASET])
    if problem:
        st.sidebar.warning(problem, icon=":material/dataset:")
        st.session_state[DATASET] = "mnist"
    if st.query_params.get(DATASET_LINK, "mnist") != st.session_state[DATASET]:
        _mirror_dataset()
    st.sidebar.segmented_control(
        "Dataset",
        names,
        key=DATASET,
        format_func=lambda name: data.get(name).title,
        required=True,
        on_change=_mirror_dataset,
        help="Handwritten digits, or photos of clothes: the same models, other images.",
    )
    return st.session_state[DATASET]


def _mirror_to_url() -> None:
    st.query_params[VARIANT] = st.session_state[VARIANT]


def variant_picker() -> str:
    """The sidebar's variant select box, seeded from `?variant=` and mirrored back to it.

    The URL holds the registry name (`?variant=conv`), so a teacher's link opens the same
    view. Streamlit's own widget binding would put the display title in the URL instead.
    """
    names = list(lesson().setup.variants)
    if st.session_state.get(VARIANT) not in (None, *names):
        st.session_state.pop(VARIANT)  # Not part of this lesson (any more).
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


# The store, the engine and the student --------------------------------------------------------

RETRY_SECONDS = 30.0  # An unreachable database is tried again this often, not on every rerun.
_store_failure: tuple[float, str] | None = None


@st.cache_resource(show_spinner="Opening the run store...")
def _open_store():
    from core.store import Store

    st.secrets.load_if_toml_exists()  # Copies a root-level AE_DATABASE_URL into os.environ.
    return Store()  # Raises StoreError; Streamlit does not cache a raised exception.


def store():
    """The run store, or None when it cannot be opened (the server log says why)."""
    global _store_failure
    from core.store import StoreError

    if _store_failure is not None and time.monotonic() - _store_failure[0] < RETRY_SECONDS:
        return None
    try:
        opened = _open_store()
    except StoreError as error:
        logging.getLogger("autoencoder_lab").error("run store unavailable: %s", error)
        _store_failure = (time.monotonic(), str(error))
        return None
    _store_failure = None
    return opened


def store_failed(error) -> bool:
    """A store call failed mid-session. Only a lost database (StoreUnavailable) turns
    training off for the whole server (every page shows the banner, pretrained models keep
    working, the store is tried again after RETRY_SECONDS); any other failure was one
    action's, which the caller reports to its user. Returns whether the store is now off."""
    global _store_failure
    from core.store import StoreUnavailable

    log = logging.getLogger("autoencoder_lab")
    if not isinstance(error, StoreUnavailable):
        log.error("run store error (one action's): %s", error)
        return False
    if _store_failure is not None and time.monotonic() - _store_failure[0] < RETRY_SECONDS:
        return True  # Already off: a page reading the latch must not extend it.
    log.error("run store unavailable: %s", error)
    _store_failure = (time.monotonic(), str(error))
    _open_store.clear()  # Reconnect from scratch on the next try.
    return True


def live_store():
    """The run store, or StoreUnavailable while it is off: for code that needs it to go on
    (a page's `guarded` main, a fragment's handler), so nothing passes None along."""
    from core.store import StoreUnavailable

    opened = store()
    if opened is None:
        raise StoreUnavailable(_store_failure[1] if _store_failure else "the run store is off")
    return opened


@st.cache_resource(show_spinner=False)
def _engine(_store, url: str):
    import os

    from core.cluster.client import Engine
    from ui import presence

    limit = limits()
    # An existing Dask cluster when the operator names its scheduler, else an embedded one.
    scheduler = os.environ.get("AE_DASK_SCHEDULER", "").strip() or None
    return Engine(
        _store,
        capacity=limit.max_trainings,
        scheduler=scheduler,
        live_students=presence.live_students,
        abandon_seconds=60.0 * limit.abandon_minutes,
        idle_seconds=60.0 * limit.worker_idle_minutes,
        max_runs=limit.max_runs_per_student,
        retention_days=limit.run_retention_days,
    ).start()


def engine():
    """This server's link to the training cluster (started on first use), or None without a
    store."""
    opened = store()
    return None if opened is None else _engine(opened, opened.url)


def student() -> Student | None:
    """The student of this session, from the link's token; None for a visitor who has not
    yet done anything that needs one (or while the store is off: `store()` tells which).

    A visitor gets a row in the store only when they first train, race, join a class or ask
    for their link (`ensure_student`): a page view writes nothing, so crawlers and passers-by
    cannot grow the table. A token that is malformed or unknown here is never echoed.
    """
    from core.store import StoreError

    opened = store()
    if opened is None:
        return None
    asked = st.query_params.get(LINK)
    known: Student | None = st.session_state.get(STUDENT)
    try:
        code = st.query_params.get(CLASS_LINK)
        if code is not None:
            st.query_params.pop(CLASS_LINK)  # Joined once: a reload keeps the personal link.
            if st.session_state.get(JOINED) != code:
                known = join_class(opened, code) or known
                asked = known.token if known else None
        if known is None or (asked is not None and asked != known.token):
            if known is not None:  # Another student's link in this tab: not their model.
                st.session_state.pop(MODEL, None)
            found = opened.find_student(asked) if asked else None
            if found is not None:
                known = Student(found, asked)
                st.session_state[STUDENT] = known
            else:
                st.session_state.pop(STUDENT, None)
                if asked is not None:
                    st.session_state["link_unknown"] = True
                    st.query_params.pop(LINK, None)
                return None
    except StoreError as error:
        store_failed(error)
        return None
    return _registered(known)


def ensure_student() -> Student:
    """This session's student, written to the store now if the visitor had none: called by
    the actions that need one (train, race, join, keep a link). Raises StoreError."""
    known = student()
    if known is None:
        known = Student(*live_store().new_student())
        st.session_state[STUDENT] = known
    return _registered(known)


def _registered(known: Student) -> Student:
    if st.query_params.get(LINK) != known.token:
        st.query_params[LINK] = known.token  # Page switches drop query parameters.
    from ui import presence

    presence.register(known.id)
    return known


def join_class(opened, code: str) -> Student | None:
    """A new student of the class with this code, or None (and a notice) for a code not known
    here; the code itself is never echoed."""
    from core.lab import classroom

    joined = classroom.join(opened, code)
    if joined is None:
        st.session_state["class_unknown"] = True
        return None
    st.session_state[JOINED] = code
    st.session_state["class_joined"] = True
    st.session_state.pop(MODEL, None)
    student = Student(*joined)
    st.session_state[STUDENT] = student
    return student


@dataclass(frozen=True)
class Lesson:
    """What applies to this session's student: their class (if any) and its setup, merged
    with the server's limits. Read from the store on every script run, so a teacher's change
    reaches every student at their next interaction."""

    room: object  # core.store.ClassRow or None
    member: object  # core.store.Member or None
    setup: object  # core.lab.classroom.Setup

    def shows(self, page: str) -> bool:
        """Whether this student's navigation has the page at URL path `page`."""
        from core.lab.classroom import PAGES

        return self.room is None or page not in PAGES or page in self.setup.pages


def lesson() -> Lesson:
    """This session's lesson (computed by app.py before the navigation, once per run)."""
    found = st.session_state.get(LESSON)
    return found if found is not None else read_lesson()


def read_lesson() -> Lesson:
    from dataclasses import replace

    from core.lab import classroom
    from core.store import StoreError

    limit = limits()
    room = member = None
    setup = classroom.Setup()
    me, opened = st.session_state.get(STUDENT), store()
    if me is not None and opened is not None:
        try:
            room, member = classroom.student_class(opened, me.id)
        except StoreError as error:
            store_failed(error)
        if room is not None:
            try:
                setup = classroom.Setup.from_json(room.setup)
            except classroom.ClassError:  # A setup this version cannot read: the defaults.
                logging.getLogger("autoencoder_lab").warning("class %s: bad setup", room.id)
    setup = replace(
        setup,
        max_epochs=min(setup.max_epochs, limit.max_epochs),
        max_subset=min(setup.max_subset, limit.max_subset),
    )
    found = Lesson(room, member, setup)
    if me is not None:  # Before the student is known (a page run alone), nothing to keep.
        st.session_state[LESSON] = found
    return found


def guarded(main, message: str) -> None:
    """Run a page's `main` so that no store problem reaches the page as a traceback: a store
    that goes away mid-page gives `message` as a banner (and turns training off for the
    server until it is back); a refusal (a rule of the lab, a stale button) is a message to
    this user alone; another failed action says so and changes nothing for anyone else."""
    from core.store import Refused, StoreError

    try:
        main()
    except Refused as error:
        refusal(error)
    except StoreError as error:
        if store_failed(error):
            st.warning(message, icon=":material/cloud_off:")
        else:
            st.error(
                "That did not work (the run store refused it); nothing was changed. Try again.",
                icon=":material/error:",
            )


def refusal(error: Exception) -> None:
    """A rule's refusal, shown to the user who met it."""
    text = str(error)
    st.warning(text[:1].upper() + text[1:].rstrip(".") + ".", icon=":material/block:")


def start_fresh() -> None:
    """Forget this session's student; the next run mints a new link (the old one still works)."""
    st.session_state.pop(STUDENT, None)
    st.session_state.pop(MODEL, None)
    st.query_params.pop(LINK, None)


def my_link(token: str) -> str:
    """This page's address with the student's token (and the chosen variant)."""
    from urllib.parse import urlencode, urlsplit, urlunsplit

    parts = urlsplit(st.context.url or "http://localhost:8501/")
    query = urlencode({VARIANT: current_variant(), LINK: token})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


TRAIN_NOTICE = "train_notice"  # A message for the next rerun (st.rerun would swallow it now).


def queue_runs(me: Student, racers: list[tuple[str, dict]]) -> list[int] | None:
    """Queue one run, or a race of several, on the session's dataset and hand them to the
    training cluster; the server applies the class's locks and its own limits
    (`core.lab.classroom`), whatever the browser sent. None, with the reason shown, if refused."""
    from core.cluster.client import EngineUnavailable
    from core.lab import classroom
    from core.store import Busy, LabBusy

    limit = limits()
    common = {
        "dataset": current_dataset(),
        "max_epochs": limit.max_epochs,
        "max_subset": limit.max_subset,
        "max_runs": limit.max_runs_per_student,
        "max_queued": limit.max_queued,
    }
    try:
        if len(racers) == 1:
            ids = [classroom.start_run(live_store(), me.id, *racers[0], **common)]
        else:
            ids = classroom.start_race(live_store(), me.id, racers, **common)
    except Busy:
        st.warning(
            "You already have a run queued or training: stop it on the Train page (or wait "
            "for it) before starting another.",
            icon=":material/block:",
        )
        return None
    except LabBusy as error:
        st.warning(str(error).capitalize() + ".", icon=":material/hourglass_top:")
        return None
    except classroom.ClassError as error:
        refusal(error)
        return None
    try:
        for run_id in ids:
            engine().submit(run_id)
    except EngineUnavailable:  # Kept queued in the store: submitted when the cluster is back.
        st.session_state[TRAIN_NOTICE] = (
            "The training cluster cannot be reached right now; your runs are queued and start "
            "when it is back."
        )
    return ids


def my_runs(variant: str | None = None, dataset: str | None = None) -> list:
    """This student's runs (of `variant`, on `dataset`), newest first; empty without a store."""
    from core.store import StoreError

    me, opened = st.session_state.get(STUDENT), store()
    if me is None or opened is None:
        return []
    try:
        found = opened.runs(me.id, variant)
        return [run for run in found if dataset is None or run_dataset(run) == dataset]
    except StoreError as error:
        store_failed(error)
        return []


def usable(run) -> bool:
    """A run with weights to use: at least one epoch trained and not training now."""
    return run.epochs_done > 0 and not run.active


def run_label(run) -> str:
    """A readable one-line name for a run: what it is and how good, then when."""
    parts = [f"Run {run.id}"]
    if run.status != "finished":
        parts.append(run.status)
    elif run.metrics:
        parts.append(metric_line(run.metrics).split(" · ")[0])
    parts.append(f"{run.epochs_done} ep")
    model = run.settings.get("model", {})
    for key, short in (("code_size", "code"), ("beta", "β"), ("l1", "λ"), ("contraction", "λ")):
        if key in model:
            parts.append(f"{short} {model[key]:g}")
            break
    parts.append(time.strftime("%d %b %H:%M", time.localtime(run.created_at)))
    return " · ".join(parts)


@st.cache_resource(show_spinner="Loading your model...", max_entries=16)
def _run_model(key: str, _run):
    """A student's run rebuilt from its checkpoint, once per (run, epoch of its weights)."""
    from core.ml.choices import build_model

    model = build_model(_run.variant, _run.settings)
    found = live_store().checkpoint(_run.id)
    if found is None:
        raise LookupError(f"run {_run.id} has no weights stored")
    model.set_weights(found[1])
    model.trainable = False
    return model


def run_model(run):
    """A student's run as a model, rebuilt from the store once per (run, epoch of its weights);
    the caller has checked that the run is the student's own."""
    return _run_model(run.key, run)


def model_picker(name: str) -> None:
    """The sidebar's model choice: the shipped model or one of the student's own runs."""
    runs = {run.id: run for run in my_runs(name, current_dataset()) if usable(run)}
    options = [PRETRAINED, *runs]
    asked = st.query_params.get(MODEL_LINK, "")
    if MODEL not in st.session_state and asked.isdigit():  # A reload or a shared link.
        st.session_state[MODEL] = int(asked)
    pending = st.session_state.pop(CHOOSE, None)  # Set by choose_model().
    if pending in options:
        st.session_state[MODEL] = pending
    if st.session_state.get(MODEL) not in options:
        st.session_state[MODEL] = PRETRAINED
    st.sidebar.selectbox(
        "Model",
        options,
        key=MODEL,
        format_func=lambda choice: (
            "Pretrained (shipped)" if choice == PRETRAINED else run_label(runs[choice])
        ),
        help="Your runs of this variant, newest first: every page then uses the chosen one.",
    )
    if not runs:
        st.sidebar.caption("Train this variant on the Train page to use your own model here.")
    chosen = st.session_state[MODEL]
    if chosen == PRETRAINED:
        st.query_params.pop(MODEL_LINK, None)
    elif st.query_params.get(MODEL_LINK) != str(chosen):
        st.query_params[MODEL_LINK] = str(chosen)  # A reload keeps the chosen run.


def choose_model(choice, variant: str | None = None) -> None:
    """Make a run id (or PRETRAINED) the sidebar's model from the next page run on, with its
    variant. Safe in callbacks and fragments: the sidebar's widget takes it before it is drawn."""
    if variant is not None:
        st.session_state[VARIANT] = variant
    st.session_state[CHOOSE] = choice


def current_model(name: str) -> ModelRef:
    """The model the pages use for variant `name`: the chosen run if it is of that variant."""
    from core.store import StoreError

    choice, me, opened = st.session_state.get(MODEL), st.session_state.get(STUDENT), store()
    if choice not in (None, PRETRAINED) and me is not None and opened is not None:
        try:
            run = opened.run(int(choice), me.id)
            same_data = run is not None and run_dataset(run) == current_dataset()
            if same_data and run.variant == name and usable(run):
                return ModelRef(run.key, run_model(run), run_label(run), run.id)
        except StoreError as error:
            store_failed(error)
        except LookupError:  # Deleted in another tab since the sidebar listed it.
            choose_model(PRETRAINED)  # The sidebar's choice too, from the next run on.
            st.toast("That run is gone; showing the pretrained model.", icon=":material/info:")
    return pretrained(name)


def metric_line(metrics: dict) -> str:
    """The card's key figures in one short line; BCE with how far it is above the floor that
    the images' own grey pixels set (0.242 nats on Fashion-MNIST, 0.058 on MNIST)."""
    parts = []
    if "negative_elbo" in metrics:
        parts.append(f"-ELBO {metrics['negative_elbo']:.1f} nats")
    if "bce" in metrics:
        floor = metrics.get("bce_floor")
        above = f" (floor {floor:.3f} + {metrics['bce'] - floor:.4f})" if floor else ""
        parts.append(f"BCE {metrics['bce']:.4f}{above}")
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
        st.download_button(
            "Get the code",
            shipped_code(name, current_dataset()),
            file_name=f"{name}.py",
            mime="text/x-python",
            icon=":material/code:",
            key="shipped_code",
            on_click="ignore",
            help="The shipped model's architecture and recipe as one Python file (Keras, NumPy "
            "and Keras's dataset loader only): it trains, evaluates on the test set and saves.",
        )


@st.cache_data(show_spinner=False)
def shipped_code(name: str, dataset: str) -> str:
    """`python -m core.codegen NAME --dataset DATASET`: the file behind a shipped model."""
    from core.ml import codegen

    return codegen.for_shipped(name, dataset)


def plain(text: str) -> str:
    """User text for st.markdown, shown as typed: Markdown, HTML and Streamlit's `:colour[]`
    and `:material/...:` directives are all escaped."""
    import re

    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])", r"\\\1", text)


def class_ui() -> None:
    """The sidebar's class line for a class's student: the lesson and their nickname."""
    found = lesson()
    if found.room is None or found.member is None:
        return
    if st.session_state.pop("class_joined", False):
        st.sidebar.success(
            f"You joined **{plain(found.room.name)}** as **{plain(found.member.nickname)}**. "
            'Your runs are kept under your own link ("Your link" below): bookmark it to '
            "come back to them.",
            icon=":material/groups:",
        )
    else:
        st.sidebar.caption(
            f":material/groups: {plain(found.room.name)} · you are {plain(found.member.nickname)}"
        )


def link_ui(me: Student | None) -> None:
    """The sidebar's "Your link" with a copy button, or the banner when the store is down."""
    if me is None and store() is not None:
        if st.session_state.pop("link_unknown", False):
            st.sidebar.info(
                "The link you opened is not known here (it may have expired). You get a new "
                "one when you train.",
                icon=":material/link_off:",
            )
        with st.sidebar.popover("Your link", icon=":material/link:", width="stretch"):
            st.markdown(
                "You get a personal link the first time you train or race: it is the key to "
                "your runs, to bookmark or to open on another computer. No account, nothing "
                "personal stored."
            )
            if st.button("Get my link now", icon=":material/add_link:", key="get_link"):
                from core.store import StoreError

                try:
                    ensure_student()
                except StoreError as error:  # The sidebar is outside every page's guard.
                    store_failed(error)
                    st.warning("Your link cannot be made right now; try again in a minute.")
                else:
                    st.rerun()
        return
    if me is None:
        # The reason (host, database, driver message) goes to the operator's log, not to
        # every student's screen.
        st.sidebar.warning(
            "Your runs cannot be stored right now, so training is off until the run store is "
            "back. The pretrained models work as usual.",
            icon=":material/cloud_off:",
        )
        return
    if st.session_state.pop("class_unknown", False):
        st.sidebar.warning(
            "The class link you opened is not known here; ask your teacher for the link again.",
            icon=":material/link_off:",
        )
    with st.sidebar.popover("Your link", icon=":material/link:", width="stretch"):
        st.markdown(
            "This link is the key to your runs: bookmark it, or open it on another computer to "
            "continue there. Anyone who has it sees your runs, so share it with care."
        )
        st.code(my_link(me.token), language=None, wrap_lines=True)
        if lesson().room is not None:  # A new link would leave the class and its board.
            st.caption("In a class, this link keeps you in it: open it again to come back.")
        elif st.button(
            "Start fresh",
            icon=":material/restart_alt:",
            key="start_fresh",
            help="A new, empty link. Your current link keeps working.",
        ):
            start_fresh()
            st.rerun()


def sidebar() -> str:
    """The shared sidebar: dataset, variant, its explanation, the model choice and your link."""
    dataset_picker()
    name = variant_picker()
    explain(name)
    me = student()
    model_picker(name)
    class_ui()
    link_ui(me)
    engine()  # Started with the first page anyone opens: queued runs train, stale ones end.
    return name


def current_variant() -> str:
    """The variant chosen in the sidebar (app.py draws the sidebar before every page)."""
    return st.session_state.get(VARIANT) or lesson().setup.variants[0]


@st.cache_resource(show_spinner=False)
def limits():
    """The server's limits (`core.lab.limits`), read once from secrets and the environment.

    Streamlit copies root-level entries of `.streamlit/secrets.toml` into `os.environ` at
    start-up, so a value in the secrets file wins over one exported in the shell.
    """
    import os

    from core.lab.limits import Limits

    secrets = st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}
    found, problems = Limits.read(secrets, os.environ)
    for problem in problems:  # For the operator's log; students need not see it.
        logging.getLogger("autoencoder_lab").warning(problem)
    return found
