"""Which students have a page open on this server, for the engine's abandoned-run sweep.

Every page run registers its session with the student it belongs to; the engine asks for the
students whose sessions are still connected and records them in the store, so a run whose
student has closed every tab (on every server) can be found there and stopped.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_sessions: dict[str, int] = {}  # Streamlit session id -> student id


def register(student_id: int) -> None:
    """Remember that the current session belongs to `student_id` (no-op outside a server)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is not None:
        with _lock:
            _sessions[context.session_id] = student_id


def live_students() -> set[int]:
    """Students with at least one connected session; forgets sessions that have ended."""
    from streamlit.runtime import Runtime

    with _lock:
        sessions = dict(_sessions)
    if not Runtime.exists():  # AppTest: every registered session counts as open.
        return set(sessions.values())
    runtime = Runtime.instance()
    live = set()
    for session_id, student_id in sessions.items():
        if runtime.is_active_session(session_id):
            live.add(student_id)
        else:
            with _lock:
                _sessions.pop(session_id, None)
    return live
