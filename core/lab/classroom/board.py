"""What a teacher and a class see of its runs: the board (each student's best scored run per
challenge), the students who may need help, and every run as CSV."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass

from core.i18n import _
from core.lab.classroom.access import require, teacher_class
from core.lab.classroom.challenges import Challenge, class_challenges
from core.ml import choices
from core.store import Member, Run, Store

STUCK_MINUTES = 10  # Nothing finished this long after joining: the teacher sees it.


@dataclass(frozen=True)
class Entry:
    rank: int
    student_id: int
    nickname: str
    run: Run
    value: float


def board(
    store: Store, class_id: int, everyone: bool = False
) -> list[tuple[Challenge, list[Entry]]]:
    """Per challenge, each student's best scored run, ranked (ties: the earlier run first).

    Students who opted out are left off unless `everyone` (the teacher's view)."""
    found = class_challenges(store, class_id)
    if not found:
        return []
    members = {member.id: member for member in store.members(class_id)}
    runs = {run.id: run for run in store.class_runs(class_id)}
    by_challenge: dict[int, dict[int, tuple[float, Run]]] = {}
    sign = {challenge.id: 1 if challenge.lower_is_better else -1 for challenge in found}
    for challenge_id, run_id, value in store.scores(class_id):
        run = runs.get(run_id)
        member = members.get(run.student_id) if run else None
        if value is None or member is None or challenge_id not in sign:
            continue
        if not (everyone or member.on_board):
            continue
        best = by_challenge.setdefault(challenge_id, {})
        key = (sign[challenge_id] * value, run.finished_at or 0)
        known = best.get(member.id)
        if known is None or key < (sign[challenge_id] * known[0], known[1].finished_at or 0):
            best[member.id] = (value, run)
    result = []
    for challenge in found:
        best = by_challenge.get(challenge.id, {})
        ordered = sorted(
            best.items(),
            key=lambda item: (sign[challenge.id] * item[1][0], item[1][1].finished_at or 0),
        )
        entries = [
            Entry(rank, student_id, members[student_id].nickname, run, value)
            for rank, (student_id, (value, run)) in enumerate(ordered, start=1)
        ]
        result.append((challenge, entries))
    return result


def stuck(
    members: list[Member], runs: list[Run], minutes: float = STUCK_MINUTES, now: float | None = None
) -> list[tuple[Member, str]]:
    """Students who may need help: their latest run diverged or failed, or nothing of theirs
    has finished `minutes` after they joined."""
    now = now or time.time()
    latest: dict[int, Run] = {}
    finished: set[int] = set()
    for run in runs:  # Newest first.
        latest.setdefault(run.student_id, run)
        if run.status == "finished":
            finished.add(run.student_id)
    found = []
    for member in members:
        run = latest.get(member.id)
        if run is not None and run.status == "diverged":
            found.append((member, _("latest run {run} diverged").format(run=run.id)))
        elif run is not None and run.status == "failed":
            found.append((member, _("latest run {run} failed").format(run=run.id)))
        elif member.id not in finished and now - member.created_at > minutes * 60:
            waited = (now - member.created_at) / 60
            found.append(
                (member, _("nothing finished after {minutes:.0f} min").format(minutes=waited))
            )
    return found


def runs_csv(store: Store, key: str) -> str:
    """Every run of the teacher's class as CSV, one row per run, with each challenge's
    metric (empty where the run did not enter)."""
    room = teacher_class(store, key)
    require(room is not None)
    found = class_challenges(store, room.id)
    members = {member.id: member for member in store.members(room.id)}
    values = {(challenge, run): value for challenge, run, value in store.scores(room.id)}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "run_id",
            "nickname",
            "variant",
            "status",
            "epochs_done",
            "seconds",
            "settings",
            "test_bce",
            "test_mse",
            *[f"challenge {challenge.id}: {challenge.title}" for challenge in found],
        ]
    )
    for run in store.class_runs(room.id):
        member = members.get(run.student_id)
        metrics = run.metrics or {}
        writer.writerow(
            [
                run.id,
                _csv_safe(member.nickname if member else ""),
                run.variant,
                run.status,
                run.epochs_done,
                round(run.seconds, 1),
                json.dumps(choices.values_of(run.settings), sort_keys=True),
                metrics.get("bce", ""),
                metrics.get("mse", ""),
                *[
                    "" if values.get((c.id, run.id)) is None else values[(c.id, run.id)]
                    for c in found
                ],
            ]
        )
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """A nickname a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
