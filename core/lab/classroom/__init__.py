"""A class: a teacher's lesson setup, its students, challenges and the board.

Every teacher action takes the teacher key and checks it in the store (`access`), and every run
a student starts goes through `core.lab.runs`, which applies the class's locks and limits
(`setup`) on the server: whatever a browser sends (a forged widget value, a URL parameter), a
locked setting trains with the teacher's value. Finished runs are scored for the class's
challenges by the training worker (`challenges.score_run`); the board ranks them (`board`).

    python -m core.classroom create "Lesson 3" --base-url http://host:8501

This module gathers the package's public names, so pages write `classroom.join(...)`.
"""

from core.lab.classroom.access import (
    CODE_CHARS,
    KEY_BYTES,
    NICKNAME_CHARS,
    add_challenge,
    add_class_dataset,
    class_code,
    class_datasets,
    create_class,
    delete_class_dataset,
    friendly_nickname,
    join,
    links,
    remove_challenge,
    rename,
    rename_class_dataset,
    save_setup,
    set_on_board,
    set_paused,
    student_class,
    teacher_class,
)
from core.lab.classroom.board import STUCK_MINUTES, Entry, board, runs_csv, stuck
from core.lab.classroom.challenges import (
    METRICS,
    Challenge,
    challenge_value,
    class_challenges,
    score_run,
)
from core.lab.classroom.setup import (
    PAGE_TITLES,
    PAGES,
    ClassError,
    Setup,
    clean_text,
    setup_changes,
)

__all__ = [
    "CODE_CHARS",
    "KEY_BYTES",
    "METRICS",
    "NICKNAME_CHARS",
    "PAGES",
    "PAGE_TITLES",
    "STUCK_MINUTES",
    "Challenge",
    "ClassError",
    "Entry",
    "Setup",
    "add_challenge",
    "add_class_dataset",
    "board",
    "challenge_value",
    "class_challenges",
    "class_code",
    "class_datasets",
    "clean_text",
    "create_class",
    "delete_class_dataset",
    "friendly_nickname",
    "join",
    "links",
    "remove_challenge",
    "rename",
    "rename_class_dataset",
    "runs_csv",
    "save_setup",
    "score_run",
    "set_on_board",
    "set_paused",
    "setup_changes",
    "stuck",
    "student_class",
    "teacher_class",
]
