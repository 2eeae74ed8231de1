"""The server's handles on the run store and the training cluster, with the failure latch: a
lost database turns training off for every page of this server for RETRY_SECONDS (a banner,
not a traceback), while a refusal or one failed action is a message to its one user
(`guarded`, `refusal`). Also the server's settings (`limits`, `core.config`)."""

from __future__ import annotations

import contextlib
import logging
import time

import streamlit as st

from core.i18n import _
from core.ml import data

RETRY_SECONDS = 30.0  # An unreachable database is tried again this often, not on every rerun.


_store_failure: tuple[float, str] | None = None
_opened: list[bool] = []  # Whether the store has been opened since the last failure.


@st.cache_resource(show_spinner=False)  # store() spins, in the reader's language.
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
        if _opened:
            opened = _open_store()
        else:  # The first opening (or one after a failure) may take a while: say so.
            with st.spinner(_("Opening the run store...")):
                opened = _open_store()
            _opened.append(True)
    except StoreError as error:
        logging.getLogger("autoencoder_lab").error("run store unavailable: %s", error)
        _store_failure = (time.monotonic(), str(error))
        return None
    _store_failure = None
    data.use_store(opened)  # Uploaded datasets get their names and images from it.
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
    _opened.clear()
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
    from core.cluster.client import Engine
    from ui import presence

    limit = limits()
    # An existing Dask cluster when the operator names its scheduler, else an embedded one.
    scheduler = limit.dask_scheduler or None
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


class NoShippedModel(LookupError):
    """The dataset is an upload: the lab ships no model for it, the student trains their own
    (`guarded` says so on the page, with the way to the Train page)."""

    def __init__(self, variant: str, dataset: str):
        super().__init__(f"no shipped {variant} model for {dataset}")  # i18n: not shown
        self.variant, self.dataset = variant, dataset


def guarded(main, message: str) -> None:
    """Run a page's `main` so that no store problem reaches the page as a traceback: a store
    that goes away mid-page gives `message` as a banner (and turns training off for the
    server until it is back); a refusal (a rule of the lab, a stale button) is a message to
    this user alone; another failed action says so and changes nothing for anyone else."""
    from core.store import Refused, StoreError

    try:
        main()
    except NoShippedModel as error:
        no_shipped_model(error)
    except Refused as error:
        refusal(error)
    except StoreError as error:
        if store_failed(error):
            st.warning(message, icon=":material/cloud_off:")
        else:
            st.error(
                _("That did not work (the run store refused it); nothing was changed. Try again."),
                icon=":material/error:",
            )


def fragment_failed(error: Exception) -> None:
    """What a fragment's own rerun (outside its page's `guarded`) shows when the store or an
    upload's images fail it: a line, not a traceback."""
    from core.store import StoreError

    if isinstance(error, StoreError):
        store_failed(error)
        st.warning(
            _("The run store cannot be reached right now; try again in a minute."),
            icon=":material/cloud_off:",
        )
    else:  # core.ml.data.DatasetUnavailable: an upload deleted meanwhile.
        st.warning(
            _("This dataset of uploaded images is not in the run store (any more)."),
            icon=":material/dataset:",
        )


def no_shipped_model(error) -> None:
    """What a page that shows a shipped model says on an upload without a run of its own."""
    from ui.words import dataset_title, title

    st.info(
        _(
            "The lab ships no trained models for {dataset}: this page uses your own runs on it "
            "(the sidebar's Model, else your newest). Train a {variant} run on it on the Train "
            "page first."
        ).format(dataset=dataset_title(error.dataset), variant=title(error.variant)),
        icon=":material/model_training:",
    )
    train_link()


def train_link() -> None:
    """A link to the Train page, where the student may open it (a lesson may hide it: then
    it is not in the navigation, and Streamlit refuses a link to it)."""
    from streamlit.errors import StreamlitAPIException

    with contextlib.suppress(StreamlitAPIException):
        train = "pages/train.py"  # i18n: not shown
        st.page_link(train, label=_("Train"), icon=":material/model_training:")


def shipped_models_only() -> None:
    """What a page made of the shipped models (Home, Inside) says on an upload."""
    from ui.session import current_dataset
    from ui.words import dataset_title

    st.info(
        _(
            "This page shows the lab's pretrained models, which learned MNIST and Fashion-MNIST. "
            "With {dataset} chosen, the pages that use your own runs on it are Train, Race, "
            "Draw, Latent space, Compare and Odd one out; choose MNIST or Fashion-MNIST in the "
            "sidebar's Dataset to see this page."
        ).format(dataset=dataset_title(current_dataset())),
        icon=":material/photo_library:",
    )


def refusal(error: Exception) -> None:
    """A rule's refusal, shown to the user who met it (translated where it was raised): an
    English one as a sentence, a Chinese one ended with a full-width stop."""
    text = str(error).strip()
    if any("\u4e00" <= char <= "\u9fff" for char in text):
        sentence = text if text.endswith(("。", "！", "？")) else text.rstrip(".") + "。"
    else:
        sentence = text[:1].upper() + text[1:].rstrip(".") + "."
    st.warning(sentence, icon=":material/block:")


def limits():
    """The server's settings (`core.config`): its limits, where its store and cluster are.
    Streamlit has copied the secrets file's root-level entries into the environment; the
    settings read it too, so the app and the commands agree."""
    from core.config import settings

    return settings()
