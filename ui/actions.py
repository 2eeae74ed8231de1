"""A student's runs as the pages see them: the list, and starting a run or a race with the
messages a refusal gets (the rules themselves are `core.lab.runs`')."""

from __future__ import annotations

import streamlit as st

from core.i18n import N_, _
from core.lab import runs
from ui.identity import STUDENT, Student
from ui.services import engine, limits, live_store, store, store_failed
from ui.session import current_dataset

TRAIN_NOTICE = "train_notice"  # A message for the next rerun (st.rerun would swallow it now).
NOT_SUBMITTED = N_(
    "The training cluster cannot be reached right now; your run is queued and starts when it "
    "is back."
)


def start(
    me: Student, racers: list[tuple[str, dict]], dataset: str | None = None
) -> list[int] | None:
    """Queue one run, or a race of several, on `dataset` (the session's) and hand them to the
    training cluster (`core.lab.runs.start`: the class's locks and the server's limits apply,
    whatever the browser sent). None, with the reason shown to this user, if refused."""
    from core.store import Busy, LabBusy

    try:
        started = runs.start(
            live_store(),
            engine(),
            me.id,
            racers,
            dataset=dataset or current_dataset(),
            limits=limits(),
        )
    except Busy:
        st.warning(
            _(
                "You already have a run queued or training: stop it on the Train page (or wait "
                "for it) before starting another."
            ),
            icon=":material/block:",
        )
        return None
    except LabBusy as error:  # Its message is in this reader's language (core.store.errors).
        st.warning(sentence(str(error)), icon=":material/hourglass_top:")
        return None
    if not started.submitted:
        # Said on the next rerun, to this reader: in their language now.
        st.session_state[TRAIN_NOTICE] = _(NOT_SUBMITTED)
    return started.ids


def stop(run, me: Student) -> None:
    """Stop the run after this batch, or take it out of the queue; says which."""
    done = runs.stop(live_store(), engine(), run, me.id)
    st.toast(_("Left the queue.") if done == "left" else _("Stopping after this batch..."))


def resume(run, me: Student) -> None:
    """Continue the run from its last checkpoint (`Refused` if it cannot be, for the page's
    guard to show)."""
    if not runs.resume(live_store(), engine(), run.id, me.id):
        st.session_state[TRAIN_NOTICE] = _(NOT_SUBMITTED)


def sentence(clause: str) -> str:
    """A refusal's clause ("the lab is busy (...); try again in a minute") as a sentence: its
    first letter capitalised and the full stop of the reader's language."""
    # Translators: a clause shown as a sentence (in Chinese, followed by "。").
    return _("{clause}.").format(clause=clause[:1].upper() + clause[1:])


def my_runs(variant: str | None = None, dataset: str | None = None) -> list:
    """This student's runs (of `variant`, on `dataset`), newest first; empty without a store."""
    from core.store import StoreError

    me, opened = st.session_state.get(STUDENT), store()
    if me is None or opened is None:
        return []
    try:
        found = opened.runs(me.id, variant)
        return [run for run in found if dataset is None or run.dataset == dataset]
    except StoreError as error:
        store_failed(error)
        return []


@st.fragment(run_every=1.0)
def watch(run_id: int) -> None:
    """A run's status line, redrawn every second while it is queued or trains; the whole page
    once it has ended (for pages that show a run's results below its status)."""
    from core.store import StoreError
    from ui.run_view import status_ui  # Not at the top: run_view is the heavier module.

    try:
        run = live_store().run(run_id)
    except StoreError as error:
        store_failed(error)
        st.warning(_("Lost the run store; retrying..."), icon=":material/cloud_off:")
        return
    if run is None or not run.active:
        st.rerun()
    status_ui(run)


def my_datasets() -> list | None:
    """The uploaded datasets this student may use (their own, then their class's), newest
    first, as `core.store.DatasetRow`s; empty without a link, None when the store failed."""
    from core.store import StoreError
    from ui.identity import lesson

    me, opened = st.session_state.get(STUDENT), store()
    if me is None or opened is None:
        return []
    try:
        return [
            row for owner in runs.owners(me.id, lesson().room) for row in opened.datasets(owner)
        ]
    except StoreError as error:
        store_failed(error)
        return None
