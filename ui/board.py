"""The class board and the teacher's live lists, shared by the Class page's two views.

Thirty students watching the board must not cost thirty store reads a second: what the board
shows is read once a second per server process and per class (`st.cache_data(ttl=1)`), and
every session on that server draws from it. The tables' cells hold text in the reader's
language (a variant's title), so the cache keeps one snapshot per class and language; the
column headers are labels given where the tables are drawn (their data keys stay English).
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core import i18n
from core.i18n import _
from core.lab import classroom
from core.ml import choices, variants
from ui import images, services, words

REFRESH_SECONDS = 1.0  # Board redraw; with the 1 s cache a finished run shows within 2 s.


@dataclass(frozen=True)
class Snapshot:
    """What the board and the teacher's lists show, read in one go, with the board's tables
    built: every session on the server draws the same objects (read-only) for a second."""

    board: list  # [(Challenge, [Entry], pd.DataFrame or None)]
    members: list
    runs: list


def snapshot(class_id: int, everyone: bool) -> Snapshot:
    """The class's board and lists, read at most once a second per class and language."""
    return _snapshot(class_id, everyone, i18n.language())


# cache_resource, not cache_data: each of thirty sessions a second would otherwise unpickle its
# own copy of every table and picture (`make soak`: the server near a full core for a class).
# `language` keys the cache: the cells are built in the language of the session that missed it.
@st.cache_resource(ttl=REFRESH_SECONDS, show_spinner=False, max_entries=256)
def _snapshot(class_id: int, everyone: bool, language: str) -> Snapshot:
    opened = services.live_store()  # While the store is off: StoreUnavailable, never None.
    found = classroom.board(opened, class_id, everyone)
    samples = opened.final_samples([e.run.id for _c, entries in found for e in entries])
    tables = [
        (challenge, entries, board_frame(challenge, entries, samples) if entries else None)
        for challenge, entries in found
    ]
    return Snapshot(tables, opened.members(class_id), opened.class_runs(class_id))


_pictures: dict[str, str] = {}  # run key -> data URI; a run's key changes with its weights.


def strip_uri(key: str, samples) -> str:
    """The eight reconstructions as a PNG data URI, once per (run, epoch)."""
    if key not in _pictures:
        if len(_pictures) > 4096:  # A long-running server: forget the oldest.
            _pictures.pop(next(iter(_pictures)))
        buffer = io.BytesIO()
        images.strip(samples, size=28, gap=2).save(buffer, format="PNG")
        _pictures[key] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return _pictures[key]


def value_text(challenge, value: float) -> str:
    return (
        f"{value:.2f}" if challenge.metric in ("psnr_denoised", "negative_elbo") else f"{value:.4f}"
    )


def board_frame(challenge, entries, samples: dict) -> pd.DataFrame:
    """A challenge's ranking; its columns' headers are `board_columns`' labels."""
    return pd.DataFrame(
        {
            "Rank": [entry.rank for entry in entries],
            "Student": [entry.nickname for entry in entries],
            "Value": [value_text(challenge, e.value) for e in entries],
            "Reconstructions": [
                strip_uri(e.run.key, samples[e.run.id]) if e.run.id in samples else None
                for e in entries
            ],
            "Variant": [_(variants.get(e.run.variant).title) for e in entries],
            "Settings": [choices.describe(choices.values_of(e.run.settings)) for e in entries],
            "Run": [e.run.id for e in entries],
        }
    )


def board_columns(challenge) -> dict:
    """The board's column headers in the reader's language (the data keys stay English)."""
    return {
        "Rank": st.column_config.NumberColumn(_("Rank"), width="small"),
        "Student": _("Student"),
        "Value": challenge.metric_label,
        "Reconstructions": st.column_config.ImageColumn(
            _("Reconstructions"),
            width=340,
            help=_("The eight fixed test images, as this run rebuilds them"),
        ),
        "Variant": _("Variant"),
        "Settings": _("Settings"),
        "Run": st.column_config.NumberColumn(_("Run"), format="%d", width="small"),
    }


def board_ui(found: Snapshot, me: int | None = None, teacher: bool = False) -> None:
    """Per challenge, each student's best run, ranked, with its eight test reconstructions;
    a student whose finished runs are not on a board is told why. `teacher`: the class's
    teacher is looking (the board speaks to whoever reads it)."""
    mine_finished = [r for r in found.runs if r.student_id == me and r.status == "finished"]
    if not found.board:
        st.info(
            (
                _(
                    "No challenge yet. When you set a challenge (in the Challenges tab), each "
                    "student's best run that meets it appears here, ranked, as soon as it "
                    "finishes."
                )
                if teacher
                else _(
                    "No challenge yet. When your teacher sets one, the best run of each "
                    "student appears here, ranked, as soon as it finishes."
                )
            ),
            icon=":material/emoji_events:",
        )
        return
    for challenge, entries, frame in found.board:
        with st.container(border=True):
            st.markdown(f"**{words.plain(challenge.title)}**")
            st.caption(words.plain(challenge.rules_text()))  # A dataset name is user text.
            if mine_finished and all(entry.student_id != me for entry in entries):
                st.caption(
                    _(
                        ":material/info: None of your finished runs meets this challenge's "
                        "rules yet: check the variant and the settings above."
                    )
                )
            if frame is None:
                st.caption(_("No finished run meets this challenge yet."))
                continue
            mine = [index for index, entry in enumerate(entries) if entry.student_id == me]
            if mine:  # The shared table is read-only: mark "you" on a copy.
                frame = frame.copy()
                # Translators: the reader's own row on the board.
                frame.loc[mine[0], "Student"] = _("{nickname} (you)").format(
                    nickname=frame.loc[mine[0], "Student"]
                )
            # A dataframe shows nicknames as text (never Markdown or HTML).
            st.dataframe(
                frame,
                hide_index=True,
                width="stretch",
                row_height=40,
                placeholder=words.MISSING,
                column_config=board_columns(challenge),
                key=f"board_{challenge.id}",
            )


def runs_ui(found: Snapshot) -> None:
    """The teacher's list of every run in the class, newest first, and the training queue."""
    names = {member.id: member.nickname for member in found.members}
    queued = sorted(
        (run for run in found.runs if run.status == "queued"), key=lambda r: (r.queued_at, r.id)
    )
    running = [run for run in found.runs if run.status == "running"]
    if queued:
        # Translators: the teacher's queue line; {names} are the next students' nicknames.
        line = _("**Training now:** {running} · **waiting:** {waiting} — next: {names}")
    else:
        line = _("**Training now:** {running} · **waiting:** {waiting}")
    st.markdown(
        line.format(
            running=len(running),
            waiting=len(queued),
            # Translators: joins the nicknames of the next students in the queue.
            names=_(", ").join(words.plain(names.get(r.student_id, "?")) for r in queued[:5]),
        )
    )
    if not found.runs:
        st.caption(_("No runs yet in this class."))
        return
    frame = pd.DataFrame(
        {
            "Run": [run.id for run in found.runs],
            "Student": [names.get(run.student_id, "?") for run in found.runs],
            "Variant": [_(variants.get(run.variant).title) for run in found.runs],
            "Status": [status_text(run) for run in found.runs],
            "Test": [words.metric_line(run.metrics) if run.metrics else "" for run in found.runs],
            "Settings": [choices.describe(choices.values_of(r.settings)) for r in found.runs],
            "Started": [time.strftime("%H:%M", time.localtime(r.created_at)) for r in found.runs],
        }
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        placeholder=words.MISSING,
        column_config={
            "Run": st.column_config.NumberColumn(_("Run"), format="%d", width="small"),
            "Student": _("Student"),
            "Variant": _("Variant"),
            "Status": _("Status"),
            # Translators: the column of a run's test metrics.
            "Test": _("Test"),
            "Settings": _("Settings"),
            # Translators: the column of the time a run was started.
            "Started": _("Started"),
        },
        key="class_runs",
    )


def status_text(run) -> str:
    """A run's status in the teacher's list, with why it ended (a worker's message, in no
    reader's language where stored: translated as the Train page does)."""
    if run.status == "running":
        return _("training {done}/{total} ep").format(done=run.epochs_done, total=run.epochs_total)
    status = words.status(run.status)
    if run.status in ("failed", "interrupted", "stopped") and run.message:
        from ui.run_view import message_text

        # Translators: a run's status and why it ended: "stopped: stopped by you".
        return _("{status}: {message}").format(status=status, message=message_text(run.message))
    return status


def stuck_ui(found: Snapshot, minutes: float) -> None:
    """Who may need help: a diverged or failed latest run, or nothing finished for a while."""
    flagged = classroom.stuck(found.members, found.runs, minutes)
    if not found.members:
        st.caption(_("No student has joined yet: share the student link."))
    elif not flagged:
        st.success(_("Nobody looks stuck."), icon=":material/sentiment_satisfied:")
    else:
        frame = pd.DataFrame(
            {
                "Student": [member.nickname for member, _reason in flagged],
                "Why": [reason for _member, reason in flagged],
            }
        )
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            key="class_stuck",
            placeholder=words.MISSING,
            column_config={"Student": _("Student"), "Why": _("Why")},
        )
