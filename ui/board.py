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

from core import classroom, settings, variants
from ui import images, state

REFRESH_SECONDS = 1.0  # Board redraw; with the 1 s cache a finished run shows within 2 s.


@dataclass(frozen=True)
class Snapshot:
    """What the board and the teacher's lists show, read in one go."""

    board: list  # [(Challenge, [Entry])]
    samples: dict  # run id -> (8, 28, 28, 1) reconstructions after its last epoch
    members: list
    runs: list


@st.cache_data(ttl=REFRESH_SECONDS, show_spinner=False, max_entries=256)
def snapshot(class_id: int, everyone: bool) -> Snapshot:
    opened = state.store()
    found = classroom.board(opened, class_id, everyone)
    shown = [entry.run.id for _, entries in found for entry in entries]
    return Snapshot(
        found, opened.final_samples(shown), opened.members(class_id), opened.class_runs(class_id)
    )


@st.cache_data(show_spinner=False, max_entries=1024)
def strip_uri(key: str, _samples) -> str:
    """The eight reconstructions as a PNG data URI, once per (run, epoch)."""
    buffer = io.BytesIO()
    images.strip(_samples, size=28, gap=2).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def value_text(challenge, value: float) -> str:
    return (
        f"{value:.2f}" if challenge.metric in ("psnr_denoised", "negative_elbo") else f"{value:.4f}"
    )


def board_ui(found: Snapshot, me: int | None = None) -> None:
    """Per challenge, each student's best run, ranked, with its eight test reconstructions."""
    if not found.board:
        st.info(
            "No challenge yet. When your teacher sets one, the best run of each student "
            "appears here, ranked, as soon as it finishes.",
            icon=":material/emoji_events:",
        )
        return
    for challenge, entries in found.board:
        with st.container(border=True):
            st.markdown(f"**{state.plain(challenge.title)}**")
            st.caption(challenge.rules_text())
            if not entries:
                st.caption("No finished run meets this challenge yet.")
                continue
            frame = pd.DataFrame(
                {
                    "Rank": [entry.rank for entry in entries],
                    "Student": [
                        entry.nickname + (" (you)" if entry.student_id == me else "")
                        for entry in entries
                    ],
                    challenge.metric_label: [value_text(challenge, e.value) for e in entries],
                    "Reconstructions": [
                        strip_uri(e.run.key, found.samples[e.run.id])
                        if e.run.id in found.samples
                        else None
                        for e in entries
                    ],
                    "Variant": [variants.get(e.run.variant).title for e in entries],
                    "Settings": [
                        settings.describe(settings.values_of(e.run.settings)) for e in entries
                    ],
                    "Run": [e.run.id for e in entries],
                }
            )
            # A dataframe shows nicknames as text (never Markdown or HTML).
            st.dataframe(
                frame,
                hide_index=True,
                width="stretch",
                row_height=40,
                column_config={
                    "Rank": st.column_config.NumberColumn(width="small"),
                    "Reconstructions": st.column_config.ImageColumn(
                        width=340,
                        help="The eight fixed test digits, as this run rebuilds them",
                    ),
                    "Run": st.column_config.NumberColumn(format="%d", width="small"),
                },
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
            " — next: " + ", ".join(state.plain(names.get(r.student_id, "?")) for r in queued[:5])
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
            "Test": [state.metric_line(run.metrics) if run.metrics else "" for run in found.runs],
            "Settings": [settings.describe(settings.values_of(r.settings)) for r in found.runs],
            "Started": [time.strftime("%H:%M", time.localtime(r.created_at)) for r in found.runs],
        }
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
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
        st.dataframe(frame, hide_index=True, width="stretch", key="class_stuck")
