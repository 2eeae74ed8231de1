"""The class board and the teacher's live lists, shared by the Class page's two views.

Thirty students watching the board must not cost thirty store reads a second: what the board
shows is read once a second per server process and per class (`st.cache_data(ttl=1)`), and
every session on that server draws from it.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.lab import classroom
from core.ml import choices, variants
from ui import images, services, words

REFRESH_SECONDS = 1.0  # Board redraw; with the 1 s cache a finished run shows within 2 s.
YOU = " (you)"


@dataclass(frozen=True)
class Snapshot:
    """What the board and the teacher's lists show, read in one go, with the board's tables
    built: every session on the server draws the same objects (read-only) for a second."""

    board: list  # [(Challenge, [Entry], pd.DataFrame or None)]
    members: list
    runs: list


# cache_resource, not cache_data: each of thirty sessions a second would otherwise unpickle its
# own copy of every table and picture (`make soak`: the server near a full core for a class).
@st.cache_resource(ttl=REFRESH_SECONDS, show_spinner=False, max_entries=256)
def snapshot(class_id: int, everyone: bool) -> Snapshot:
    opened = services.live_store()  # While the store is off: StoreUnavailable, never None.
    found = classroom.board(opened, class_id, everyone)
    samples = opened.final_samples([e.run.id for _, entries in found for e in entries])
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
    return pd.DataFrame(
        {
            "Rank": [entry.rank for entry in entries],
            "Student": [entry.nickname for entry in entries],
            challenge.metric_label: [value_text(challenge, e.value) for e in entries],
            "Reconstructions": [
                strip_uri(e.run.key, samples[e.run.id]) if e.run.id in samples else None
                for e in entries
            ],
            "Variant": [variants.get(e.run.variant).title for e in entries],
            "Settings": [choices.describe(choices.values_of(e.run.settings)) for e in entries],
            "Run": [e.run.id for e in entries],
        }
    )


COLUMNS = {
    "Rank": st.column_config.NumberColumn(width="small"),
    "Reconstructions": st.column_config.ImageColumn(
        width=340, help="The eight fixed test images, as this run rebuilds them"
    ),
    "Run": st.column_config.NumberColumn(format="%d", width="small"),
}


def board_ui(found: Snapshot, me: int | None = None, teacher: bool = False) -> None:
    """Per challenge, each student's best run, ranked, with its eight test reconstructions;
    a student whose finished runs are not on a board is told why. `teacher`: the class's
    teacher is looking (the board speaks to whoever reads it)."""
    mine_finished = [r for r in found.runs if r.student_id == me and r.status == "finished"]
    if not found.board:
        st.info(
            (
                "No challenge yet. When you set a challenge (in the Challenges tab), each "
                "student's best run that meets it appears here, ranked, as soon as it finishes."
                if teacher
                else "No challenge yet. When your teacher sets one, the best run of each "
                "student appears here, ranked, as soon as it finishes."
            ),
            icon=":material/emoji_events:",
        )
        return
    for challenge, entries, frame in found.board:
        with st.container(border=True):
            st.markdown(f"**{words.plain(challenge.title)}**")
            st.caption(challenge.rules_text())
            if mine_finished and all(entry.student_id != me for entry in entries):
                st.caption(
                    ":material/info: None of your finished runs meets this challenge's rules "
                    "yet: check the variant and the settings above."
                )
            if frame is None:
                st.caption("No finished run meets this challenge yet.")
                continue
            mine = [index for index, entry in enumerate(entries) if entry.student_id == me]
            if mine:  # The shared table is read-only: mark "you" on a copy.
                frame = frame.copy()
                frame.loc[mine[0], "Student"] = frame.loc[mine[0], "Student"] + YOU
            # A dataframe shows nicknames as text (never Markdown or HTML).
            st.dataframe(
                frame,
                hide_index=True,
                width="stretch",
                row_height=40,
                placeholder=words.MISSING,
                column_config=COLUMNS,
                key=f"board_{challenge.id}",
            )


def runs_ui(found: Snapshot) -> None:
    """The teacher's list of every run in the class, newest first, and the training queue."""
    names = {member.id: member.nickname for member in found.members}
    queued = sorted(
        (run for run in found.runs if run.status == "queued"), key=lambda r: (r.queued_at, r.id)
    )
    running = [run for run in found.runs if run.status == "running"]
    st.markdown(
        f"**Training now:** {len(running)} · **waiting:** {len(queued)}"
        + (
            " — next: " + ", ".join(words.plain(names.get(r.student_id, "?")) for r in queued[:5])
            if queued
            else ""
        )
    )
    if not found.runs:
        st.caption("No runs yet in this class.")
        return
    frame = pd.DataFrame(
        {
            "Run": [run.id for run in found.runs],
            "Student": [names.get(run.student_id, "?") for run in found.runs],
            "Variant": [variants.get(run.variant).title for run in found.runs],
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
        column_config={"Run": st.column_config.NumberColumn(format="%d", width="small")},
        key="class_runs",
    )


def status_text(run) -> str:
    if run.status == "running":
        return f"training {run.epochs_done}/{run.epochs_total} ep"
    if run.status in ("failed", "interrupted", "stopped") and run.message:
        return f"{run.status}: {run.message}"
    return run.status


def stuck_ui(found: Snapshot, minutes: float) -> None:
    """Who may need help: a diverged or failed latest run, or nothing finished for a while."""
    flagged = classroom.stuck(found.members, found.runs, minutes)
    if not found.members:
        st.caption("No student has joined yet: share the student link.")
    elif not flagged:
        st.success("Nobody looks stuck.", icon=":material/sentiment_satisfied:")
    else:
        frame = pd.DataFrame(
            {
                "Student": [member.nickname for member, _ in flagged],
                "Why": [reason for _, reason in flagged],
            }
        )
        st.dataframe(
            frame, hide_index=True, width="stretch", key="class_stuck", placeholder=words.MISSING
        )
