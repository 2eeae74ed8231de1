"""`ui.boot.prepare_server`, app.py's one explicit change to Streamlit: keep TensorFlow's
caches across script runs (a private Streamlit function is replaced). If an upgrade of
Streamlit removes what it patches, the app must log a warning and carry on, not fail."""

from __future__ import annotations

import logging

from streamlit.runtime.scriptrunner import script_runner

from ui import boot


def test_the_patch_is_applied_once_and_keeps_matplotlib_cleanup(monkeypatch):
    monkeypatch.setattr(script_runner, "_clean_problem_modules", lambda: None)
    boot.prepare_server()
    patched = script_runner._clean_problem_modules
    assert patched.keeps_keras
    boot.prepare_server()
    assert script_runner._clean_problem_modules is patched  # Not wrapped twice.


def test_a_changed_streamlit_gets_a_warning_not_a_crash(monkeypatch, caplog):
    monkeypatch.delattr(script_runner, "_clean_problem_modules")
    monkeypatch.setattr(boot.prepare_server, "warned", False, raising=False)
    with caplog.at_level(logging.WARNING, logger=boot.LOG.name):
        boot.prepare_server()
        boot.prepare_server()
    warnings = [record for record in caplog.records if "Streamlit changed" in record.message]
    assert len(warnings) == 1  # Once per server, not on every script run.
