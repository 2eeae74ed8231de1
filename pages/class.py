"""Class: a teacher's lesson. Create a class, set up what students see, set challenges, and
watch the board; a class's students see the board and choose their nickname here.

The teacher's view opens only with the teacher link's key (`?teacher=...`), checked in the
store on every run of this page and again by every action (`core.lab.classroom`); the class code
of the student link only lets a visitor join.
"""

from __future__ import annotations

import os

import streamlit as st

from core.cluster.client import EngineUnavailable
from core.lab import classroom
from core.ml import choices, variants
from core.store import StoreError
from ui import board, state
from ui.boot import ensure_navigation

TEACHER = "teacher"  # The teacher link's query parameter.
KEY = "teacher_key"  # The key this session opened the teacher view with.
CONSTRAINED = ("epochs", "subset", "code_size", "learning_rate", "batch_size")


def creation_allowed() -> bool:
    """`AE_ALLOW_CLASS_CREATION` (default on): a public demo turns page-side creation off."""
    value = os.environ.get("AE_ALLOW_CLASS_CREATION", "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def base_url() -> str:
    """This app's address as the browser sees it, for the two links."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(st.context.url or "http://localhost:8501/")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


# Without a class -----------------------------------------------------------------------------


def create_ui() -> None:
    st.markdown(
        "Run a lesson from this app: create a class and you get two links. Students who open "
        "the **student link** join the class with a nickname and see the lesson you set up; "
        "the **teacher link** opens this page with your controls: which pages and variants "
        "students see, locked settings, challenges, the live board and a CSV of every run."
    )
    if not creation_allowed():
        st.info(
            "Creating classes from the page is turned off on this server. The person who runs "
            'it can create one in a terminal: `python -m core.classroom create "Lesson 3" '
            "--base-url https://this-server`.",
            icon=":material/lock:",
        )
    else:
        with st.form("create_class"):
            name = st.text_input("Class name", placeholder="Lesson 3: autoencoders", max_chars=120)
            if st.form_submit_button("Create the class", type="primary", icon=":material/add:"):
                try:
                    _, key = classroom.create_class(state.live_store(), name)
                except classroom.ClassError as error:
                    st.warning(str(error).capitalize() + ".", icon=":material/edit:")
                else:
                    st.session_state[KEY] = key
                    st.session_state["class_created"] = True
                    st.query_params[TEACHER] = key
                    st.rerun()
    with st.expander("Have a class code?"), st.form("join_class", border=False):
        code = st.text_input("Class code", max_chars=64)
        if st.form_submit_button("Join", icon=":material/login:") and code.strip():
            st.query_params[state.CLASS_LINK] = code.strip()
            st.rerun()


# A class's student ---------------------------------------------------------------------------


def student_ui(lesson) -> None:
    room, member = lesson.room, lesson.member
    st.markdown(
        f"You are in **{state.plain(room.name)}** as **{state.plain(member.nickname)}**. "
        "Train on the Train page: every run that finishes and meets a challenge's rules is "
        "measured on the 10,000 test images and goes on the board below."
    )
    with (
        st.expander("Your nickname and the board", icon=":material/badge:"),
        st.form("nickname", border=False),
    ):
        nickname = st.text_input(
            "Nickname", value=member.nickname, max_chars=classroom.NICKNAME_CHARS
        )
        shown = st.checkbox(
            "Show my runs on the class board",
            value=member.on_board,
            help="Off: your runs stay off the board for the other students; your teacher "
            "still sees them.",
        )
        if st.form_submit_button("Save"):
            try:
                classroom.rename(state.live_store(), member.id, nickname)
                classroom.set_on_board(state.live_store(), member.id, shown)
            except classroom.ClassError as error:
                st.warning(str(error).capitalize() + ".", icon=":material/edit:")
            else:
                st.rerun()
    if not member.on_board:
        st.caption(":material/visibility_off: You are hidden from the board.")
    # Someone hidden from the board is not told their runs miss the rules: they are not shown.
    live_board(room.id, everyone=False, me=member.id if member.on_board else None)


@st.fragment(run_every=board.REFRESH_SECONDS)
def live_board(class_id: int, everyone: bool, me: int | None = None) -> None:
    try:
        board.board_ui(board.snapshot(class_id, everyone), me)
    except StoreError as error:
        state.store_failed(error)
        st.warning("Lost the run store; retrying...", icon=":material/cloud_off:")


# The teacher ---------------------------------------------------------------------------------


def teacher_ui(room, key: str) -> None:
    st.title(f"Class: {state.plain(room.name)}")
    student_link, teacher_link = classroom.links(base_url(), key)
    if st.session_state.pop("class_created", False):
        st.success(
            "Class created. Keep the teacher link to yourself (bookmark it: it is the only "
            "way back to these controls), and share the student link with your class.",
            icon=":material/check_circle:",
        )
    left, right = st.columns(2)
    with left:
        st.markdown("**Student link** (share it)")
        st.code(student_link, language=None, wrap_lines=True)
    with right:
        st.markdown("**Teacher link** (private)")
        st.code(teacher_link, language=None, wrap_lines=True)
    controls_ui(room, key)
    board_tab, runs_tab, setup_tab, challenges_tab = st.tabs(
        ["Board", "Runs and students", "Setup", "Challenges"]
    )
    with board_tab:
        live_board(room.id, everyone=True)
    with runs_tab:
        live_runs(room.id)
    with setup_tab:
        setup_ui(room, key)
    with challenges_tab:
        challenges_ui(room, key)


def controls_ui(room, key: str) -> None:
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    with row:
        paused = st.toggle(
            "Pause new trainings",
            value=room.paused,
            key="class_paused",
            help="Students cannot start runs while paused; runs already training carry on.",
        )
        if paused != room.paused:
            classroom.set_paused(state.live_store(), key, paused)
            st.toast("New trainings paused." if paused else "Trainings resumed.")
        st.download_button(
            "Runs as CSV",
            data=lambda: classroom.runs_csv(state.live_store(), key),
            file_name=f"class-{room.id}-runs.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
            help="One row per run: id, nickname, variant, status, settings, test metrics and "
            "each challenge's metric.",
        )


@st.fragment(run_every=2.0)
def live_runs(class_id: int) -> None:
    try:
        found = board.snapshot(class_id, True)
    except StoreError as error:
        state.store_failed(error)
        st.warning("Lost the run store; retrying...", icon=":material/cloud_off:")
        return
    st.subheader("Who may be stuck")
    minutes = st.number_input(
        "Flag students with nothing finished after (minutes)",
        1,
        120,
        classroom.STUCK_MINUTES,
        key="stuck_minutes",
    )
    board.stuck_ui(found, minutes)
    st.subheader("Every run")
    board.runs_ui(found)


def setup_ui(room, key: str) -> None:
    current = classroom.Setup.from_json(room.setup)
    st.markdown("What the class's students see. Changes reach them at their next click.")
    with st.form("class_setup"):
        pages = st.multiselect(
            "Pages",
            classroom.PAGES,
            default=list(current.pages),
            format_func=classroom.PAGE_TITLES.get,
            help="Home and Class are always there.",
        )
        chosen = st.multiselect(
            "Variants",
            variants.names(),
            default=list(current.variants),
            format_func=state.title,
        )
        max_epochs = st.slider("Most epochs per run", 1, 50, current.max_epochs)
        max_subset = st.select_slider(
            "Most training images per run",
            choices.SUBSETS,
            value=current.max_subset,
            format_func=lambda n: f"{n:,}",
        )
        if st.form_submit_button("Save the setup", type="primary"):
            save(
                key,
                classroom.Setup(tuple(pages), tuple(chosen), current.locks, max_epochs, max_subset),
            )
    st.markdown(
        "**Locked settings**: a locked setting is shown to students, disabled, with your value."
    )
    name = st.selectbox(
        "Variant", list(current.variants), format_func=state.title, key="lock_variant"
    )
    locked = current.locked(name)
    start = {**choices.defaults(name), **locked}
    with st.form(f"locks_{name}"):
        picked = {}
        for item in choices.for_variant(name):
            lock_column, value_column = st.columns([1, 3], vertical_alignment="bottom")
            on = lock_column.checkbox(
                f"Lock {item.label.lower()}",
                value=item.name in locked,
                key=f"lock_{name}_{item.name}",
            )
            offered = item.choices
            value = start[item.name] if start[item.name] in offered else offered[0]
            if item.numeric:
                chosen_value = value_column.select_slider(
                    item.label,
                    offered,
                    value=value,
                    key=f"lockvalue_{name}_{item.name}",
                    format_func=item.show,
                )
            else:
                chosen_value = value_column.selectbox(
                    item.label,
                    offered,
                    index=offered.index(value),
                    key=f"lockvalue_{name}_{item.name}",
                    format_func=item.show,
                )
            if on:
                picked[item.name] = chosen_value
        if st.form_submit_button(f"Save the locks of {state.title(name)}"):
            locks = {**current.locks, name: picked}
            if not picked:
                locks.pop(name)
            save(
                key,
                classroom.Setup(
                    current.pages, current.variants, locks, current.max_epochs, current.max_subset
                ),
            )


def save(key: str, setup) -> None:
    try:
        classroom.save_setup(state.live_store(), key, setup)
    except classroom.ClassError as error:
        st.warning(str(error).capitalize() + ".", icon=":material/block:")
        return
    st.toast("Saved: students get the new setup at their next click.")
    st.rerun()


def challenges_ui(room, key: str) -> None:
    found = classroom.challenges(state.live_store(), room.id)
    for challenge in found:
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.markdown(
                f"**{state.plain(challenge.title)}**  \n{state.plain(challenge.rules_text())}"
            )
            if st.button("Remove", icon=":material/delete:", key=f"remove_{challenge.id}"):
                try:
                    classroom.remove_challenge(state.live_store(), key, challenge.id)
                except classroom.ClassError as error:  # Removed already, in another tab.
                    st.session_state["challenge_notice"] = str(error)
                st.rerun()
    if notice := st.session_state.pop("challenge_notice", None):
        state.refusal(notice)
    if not found:
        st.caption("No challenge yet.")
    st.markdown("**New challenge**")
    with st.form("new_challenge"):
        title = st.text_input(
            "Title", placeholder="Smallest code, best reconstruction", max_chars=80
        )
        metric = st.selectbox(
            "Ranked by",
            list(classroom.METRICS),
            format_func=lambda name: classroom.METRICS[name][0],
        )
        allowed = st.multiselect(
            "Variants allowed (none: any)",
            list(room.setup.get("variants") or variants.names()),
            format_func=state.title,
        )
        st.caption("Constraints on the settings (any: no constraint).")
        columns = st.columns(len(CONSTRAINED))
        constraints = {}
        for column, name in zip(columns, CONSTRAINED, strict=True):
            item = choices.setting("vanilla", name)
            bound = column.selectbox(
                f"{item.label} at most",
                ("any", *item.choices),
                format_func=lambda v, i=item: v if v == "any" else i.show(v),
            )
            if bound != "any":
                constraints[name] = {"max": bound}
        from core.ml import noise

        st.caption("For PSNR after denoising: the noise added to the test images.")
        noise_columns = st.columns(2)
        noise_kind = noise_columns[0].selectbox(
            "Noise kind", noise.KINDS, format_func=lambda k: k.replace("_", " ")
        )
        noise_level = noise_columns[1].select_slider(
            "Noise level", choices.setting("denoising", "noise_level").choices[1:], value=0.5
        )
        if st.form_submit_button(
            "Add the challenge", type="primary", icon=":material/emoji_events:"
        ):
            add_challenge(
                key,
                {
                    "title": title,
                    "metric": metric,
                    "variants": allowed,
                    "constraints": constraints,
                    "noise_kind": noise_kind,
                    "noise_level": noise_level,
                },
            )


def add_challenge(key: str, rules: dict) -> None:
    opened = state.live_store()
    try:
        challenge_id = classroom.add_challenge(opened, key, classroom.Challenge.from_json(rules))
    except classroom.ClassError as error:
        st.warning(str(error).capitalize() + ".", icon=":material/block:")
        return
    engine = state.engine()
    try:  # Runs that finished before the challenge existed are scored by a training worker.
        engine.send("core.cluster.tasks.score_challenge", challenge_id, opened.display_url)
    except EngineUnavailable:
        st.session_state["challenge_notice"] = (
            "Added. The training cluster cannot be reached, so runs that finished before now "
            "are not scored; new runs are."
        )
    st.rerun()


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
    opened = state.live_store()
    if opened is None:
        st.title("Class")
        st.warning(
            "Classes are off while the run store is unavailable.", icon=":material/cloud_off:"
        )
        return
    key = teacher_key()
    if key:
        room = classroom.teacher_class(opened, key)
        if room is None:
            st.session_state.pop(KEY, None)
            st.query_params.pop(TEACHER, None)
            st.title("Class")
            st.error(
                "This teacher link is not valid here. Check that it was copied whole.",
                icon=":material/key_off:",
            )
            return
        if notice := st.session_state.pop("challenge_notice", None):
            st.warning(notice, icon=":material/cloud_off:")
        teacher_ui(room, key)
        return
    lesson = state.lesson()
    st.title("Class")
    if lesson.room is not None and lesson.member is not None:
        student_ui(lesson)
    else:
        create_ui()


ensure_navigation()
# The database went away mid-page: a banner, not a traceback.
state.guarded(
    main,
    "The class cannot be reached right now; the pretrained models on the other pages work "
    "as usual.",
)
