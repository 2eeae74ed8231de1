"""Class: a teacher's lesson. Create a class, set up what students see, set challenges, and
watch the board; a class's students see the board and choose their nickname here.

The teacher's view opens only with the teacher link's key (`?teacher=...`), checked in the
store on every run of this page and again by every action (`core.lab.classroom`); the class code
of the student link only lets a visitor join.
"""

from __future__ import annotations

import streamlit as st

from core import i18n
from core.i18n import _
from core.lab import classroom
from core.store import StoreError
from ui import board, identity, services, words
from ui.boot import ensure_navigation
from ui.class_datasets import datasets_ui
from ui.class_setup import challenges_ui, forget_notice, sentence, setup_ui

TEACHER = "teacher"  # The teacher link's query parameter.
KEY = "teacher_key"  # The key this session opened the teacher view with.


def creation_allowed() -> bool:
    """`AE_ALLOW_CLASS_CREATION` (default on): a public demo turns page-side creation off."""
    return services.limits().allow_class_creation


def base_url() -> str:
    """This app's address as the browser sees it, for the two links."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(st.context.url or "http://localhost:8501/")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


# Without a class -----------------------------------------------------------------------------


def create_ui() -> None:
    st.markdown(
        _(
            "Run a lesson from this app: create a class and you get two links. Students who "
            "open the **student link** join the class with a nickname and see the lesson you "
            "set up; the **teacher link** opens this page with your controls: which pages and "
            "variants students see, locked settings, challenges, the live board and a CSV of "
            "every run."
        )
    )
    if not creation_allowed():
        st.info(
            _(
                "Creating classes from the page is turned off on this server. The person who "
                'runs it can create one in a terminal: `python -m core.classroom create "Lesson '
                '3" --base-url https://this-server`.'
            ),
            icon=":material/lock:",
        )
    else:
        with st.form("create_class"):
            name = st.text_input(
                _("Class name"), placeholder=_("Lesson 3: autoencoders"), max_chars=120
            )
            if st.form_submit_button(_("Create the class"), type="primary", icon=":material/add:"):
                try:
                    _class_id, key = classroom.create_class(services.live_store(), name)
                except classroom.ClassError as error:
                    st.warning(sentence(error), icon=":material/edit:")
                else:
                    st.session_state[KEY] = key
                    st.session_state["class_created"] = True
                    st.query_params[TEACHER] = key
                    st.rerun()
    with st.expander(_("Have a class code?")), st.form("join_class", border=False):
        code = st.text_input(_("Class code"), max_chars=64)
        if st.form_submit_button(_("Join"), icon=":material/login:") and code.strip():
            st.query_params[identity.CLASS_LINK] = code.strip()
            st.rerun()


# A class's student ---------------------------------------------------------------------------


def student_ui(lesson) -> None:
    room, member = lesson.room, lesson.member
    st.markdown(
        _(
            "You are in **{room}** as **{nickname}**. Train on the Train page: every run that "
            "finishes and meets a challenge's rules is measured on the {images:,} test images "
            "and goes on the board below."
        ).format(room=words.plain(room.name), nickname=words.plain(member.nickname), images=10000)
    )
    with (
        st.expander(_("Your nickname and the board"), icon=":material/badge:"),
        st.form("nickname", border=False),
    ):
        nickname = st.text_input(
            _("Nickname"), value=member.nickname, max_chars=classroom.NICKNAME_CHARS
        )
        shown = st.checkbox(
            _("Show my runs on the class board"),
            value=member.on_board,
            help=_(
                "Off: your runs stay off the board for the other students; your teacher still "
                "sees them."
            ),
        )
        if st.form_submit_button(_("Save")):
            try:
                classroom.rename(services.live_store(), member.id, nickname)
                classroom.set_on_board(services.live_store(), member.id, shown)
            except classroom.ClassError as error:
                st.warning(sentence(error), icon=":material/edit:")
            else:
                st.rerun()
    if not member.on_board:
        st.caption(_(":material/visibility_off: You are hidden from the board."))
    # Someone hidden from the board is not told their runs miss the rules: they are not shown.
    live_board(room.id, everyone=False, me=member.id if member.on_board else None)


@st.fragment(run_every=board.REFRESH_SECONDS)
def live_board(class_id: int, everyone: bool, me: int | None = None) -> None:
    """The board; `everyone` (hidden students too) is the teacher's view, so it also decides
    whom the board's texts speak to."""
    try:
        board.board_ui(board.snapshot(class_id, everyone), me, teacher=everyone)
    except StoreError as error:
        services.store_failed(error)
        st.warning(_("Lost the run store; retrying..."), icon=":material/cloud_off:")


# The teacher ---------------------------------------------------------------------------------


def teacher_ui(room, key: str) -> None:
    st.title(_("Class: {name}").format(name=words.plain(room.name)))
    # The language the teacher fixed for the class (its setup), carried by both links.
    language = (room.setup or {}).get("language")
    student_link, teacher_link = classroom.links(
        base_url(), key, language if language in i18n.LANGUAGES else None
    )
    if st.session_state.pop("class_created", False):
        st.success(
            _(
                "Class created. Keep the teacher link to yourself (bookmark it: it is the only "
                "way back to these controls), and share the student link with your class."
            ),
            icon=":material/check_circle:",
        )
    left, right = st.columns(2)
    with left:
        st.markdown(_("**Student link** (share it)"))
        st.code(student_link, language=None, wrap_lines=True)
    with right:
        st.markdown(_("**Teacher link** (private)"))
        st.code(teacher_link, language=None, wrap_lines=True)
    controls_ui(room, key)
    # Keyed: the browser keeps the chosen tab while the tabs keep their id, which is otherwise
    # their place on the page (the "Class created" notice above moved it at the next click).
    board_tab, runs_tab, setup_tab, challenges_tab, datasets_tab = st.tabs(
        [_("Board"), _("Runs and students"), _("Setup"), _("Challenges"), _("Datasets")],
        key="class_tabs",
    )
    with board_tab:
        live_board(room.id, everyone=True)
    with runs_tab:
        live_runs(room.id)
    with setup_tab:
        setup_ui(room, key)
    with challenges_tab:
        challenges_ui(room, key)
    with datasets_tab:
        datasets_ui(room, key)
    forget_notice()


def controls_ui(room, key: str) -> None:
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    with row:
        paused = st.toggle(
            _("Pause new trainings"),
            value=room.paused,
            key="class_paused",
            help=_("Students cannot start runs while paused; runs already training carry on."),
        )
        if paused != room.paused:
            classroom.set_paused(services.live_store(), key, paused)
            st.toast(_("New trainings paused.") if paused else _("Trainings resumed."))
        st.download_button(
            _("Runs as CSV"),
            data=lambda: classroom.runs_csv(services.live_store(), key),
            file_name=f"class-{room.id}-runs.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
            help=_(
                "One row per run: run_id, nickname, variant, status, epochs_done, seconds, "
                "settings, test_bce, test_mse, and one column per challenge. The column names "
                "stay in English, whatever the page's language."
            ),
        )


@st.fragment(run_every=2.0)
def live_runs(class_id: int) -> None:
    try:
        found = board.snapshot(class_id, True)
    except StoreError as error:
        services.store_failed(error)
        st.warning(_("Lost the run store; retrying..."), icon=":material/cloud_off:")
        return
    st.subheader(_("Who may be stuck"))
    minutes = st.number_input(
        _("Flag students with nothing finished after (minutes)"),
        1,
        120,
        classroom.STUCK_MINUTES,
        key="stuck_minutes",
    )
    board.stuck_ui(found, minutes)
    st.subheader(_("Every run"))
    board.runs_ui(found)


def teacher_key() -> str | None:
    """The teacher key of this session: from the link, kept across page switches."""
    asked = st.query_params.get(TEACHER)
    if asked:
        st.session_state[KEY] = asked
    key = st.session_state.get(KEY)
    if key and st.query_params.get(TEACHER) != key:
        st.query_params[TEACHER] = key  # Page switches drop query parameters.
    return key


def main() -> None:
    opened = services.live_store()
    if opened is None:
        st.title(_("Class"))
        st.warning(
            _("Classes are off while the run store is unavailable."), icon=":material/cloud_off:"
        )
        return
    key = teacher_key()
    if key:
        room = classroom.teacher_class(opened, key)
        if room is None:
            st.session_state.pop(KEY, None)
            st.query_params.pop(TEACHER, None)
            st.title(_("Class"))
            st.error(
                _("This teacher link is not valid here. Check that it was copied whole."),
                icon=":material/key_off:",
            )
            return
        teacher_ui(room, key)
        return
    lesson = identity.lesson()
    st.title(_("Class"))
    if lesson.room is not None and lesson.member is not None:
        student_ui(lesson)
    else:
        create_ui()


ensure_navigation()
# The database went away mid-page: a banner, not a traceback.
services.guarded(
    main,
    _(
        "The class cannot be reached right now; the pretrained models on the other pages work "
        "as usual."
    ),
)
