"""Who this session is: the student of the personal link (`?me=`), joined to a class by its
code (`?class=`), and the lesson that applies to them. A visitor gets a row in the store only
when they first do something that needs one (`ensure_student`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import streamlit as st

from ui.services import limits, live_store, store, store_failed
from ui.session import MODEL

LINK = "me"  # The query parameter that carries the student's link token.
STUDENT = "student"
CLASS_LINK = "class"  # The student link's query parameter: a class code.
JOINED = "joined_code"  # The class code this session joined with (not joined twice).
LESSON = "lesson"
# One-run notices for ui.notices: the link or class code opened is not known, a class joined.
LINK_UNKNOWN = "link_unknown"
CLASS_UNKNOWN = "class_unknown"
CLASS_JOINED = "class_joined"


@dataclass(frozen=True)
class Student:
    id: int
    token: str


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
                    st.session_state[LINK_UNKNOWN] = True
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
        st.session_state[CLASS_UNKNOWN] = True
        return None
    st.session_state[JOINED] = code
    st.session_state[CLASS_JOINED] = True
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


def start_fresh() -> None:
    """Forget this session's student; the next run mints a new link (the old one still works)."""
    st.session_state.pop(STUDENT, None)
    st.session_state.pop(MODEL, None)
    st.query_params.pop(LINK, None)
