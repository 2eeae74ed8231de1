"""The one settings object (`core.config`): every `AE_*` value, one precedence (the secrets
file, then the environment, then the default), bad values ignored with a message, and the
README's settings table in step with it."""

from __future__ import annotations

import logging
import re
from dataclasses import fields
from pathlib import Path

from core import config
from core.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def readme_table() -> dict[str, str]:
    """{variable: its default as the README's settings table shows it}."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`AE_"):
            for variable in re.findall(r"`(AE_[A-Z_]+)`", cells[0]):
                rows[variable] = cells[1]
    return rows


def test_the_readme_table_lists_every_setting_and_nothing_else():
    table = readme_table()
    assert set(table) == {config.variable(item.name) for item in fields(Settings)}


def test_the_readme_table_shows_each_default():
    table = readme_table()
    for item in fields(Settings):
        shown = table[config.variable(item.name)]
        default = item.default
        if isinstance(default, bool):
            assert shown == ("1" if default else "0"), item.name
        elif isinstance(default, int):
            assert shown == str(default), item.name
        elif default == "":
            # Empty means "the default the README describes": none, or a folder it names.
            assert shown == "(none)" or shown.startswith("`~/"), (item.name, shown)
        else:
            assert shown.strip("`") == default, item.name


def test_the_secrets_file_wins_over_the_environment(tmp_path, monkeypatch):
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text('AE_MAX_EPOCHS = 7\nAE_DATABASE_URL = "sqlite:///from-secrets.db"\n')
    monkeypatch.chdir(tmp_path)  # The project's secrets file is read from the working folder.
    monkeypatch.setattr(config, "SECRETS_FILES", (Path(".streamlit/secrets.toml"),))
    monkeypatch.setenv("AE_MAX_EPOCHS", "20")
    monkeypatch.setenv("AE_MAX_SUBSET", "2000")
    found = config.settings()
    assert found.max_epochs == 7  # The file's.
    assert found.max_subset == 2000  # Only the environment has it.
    assert found.store_url == "sqlite:///from-secrets.db"
    assert found.max_queued == 200  # Nobody set it: the default.


def test_a_changed_setting_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "SECRETS_FILES", ())
    monkeypatch.setenv("AE_MAX_QUEUED", "5")
    assert config.settings().max_queued == 5
    monkeypatch.setenv("AE_MAX_QUEUED", "6")
    assert config.settings().max_queued == 6


def test_switches_and_bad_values(monkeypatch):
    found, problems = Settings.read({"AE_ALLOW_CLASS_CREATION": "0", "AE_MAX_QUEUED": "lots"})
    assert found.allow_class_creation is False and found.max_queued == 200
    assert problems == ["AE_MAX_QUEUED='lots' is not a positive whole number; using the default."]
    found, problems = Settings.read({"AE_ALLOW_CLASS_CREATION": "maybe"})
    assert found.allow_class_creation is True and "not 0 or 1" in problems[0]


def test_the_abandon_limit_takes_decimal_minutes():
    assert Settings.read({"AE_ABANDON_MINUTES": "0.5"})[0].abandon_minutes == 0.5
    assert Settings.read({})[0].abandon_minutes == 2
    for bad in ("0", "-1", "soon", "nan", "inf"):
        found, problems = Settings.read({"AE_ABANDON_MINUTES": bad})
        assert found.abandon_minutes == 2, bad
        assert problems == [
            f"AE_ABANDON_MINUTES={bad!r} is not a positive number; using the default."
        ]


def test_a_broken_secrets_file_counts_as_empty(tmp_path, monkeypatch, caplog):
    broken = tmp_path / "secrets.toml"
    broken.write_text("AE_MAX_EPOCHS = = 3\n")
    monkeypatch.setattr(config, "SECRETS_FILES", (broken,))
    monkeypatch.setenv("AE_MAX_EPOCHS", "9")
    with caplog.at_level(logging.WARNING, logger=config.LOG.name):
        assert config.settings().max_epochs == 9
    assert "ignoring" in caplog.text


def test_the_store_url_defaults_to_sqlite_in_the_data_folder(tmp_path):
    found, _ = Settings.read({"AE_DATA_DIR": str(tmp_path)})
    assert found.store_url == f"sqlite:///{tmp_path / 'runs.sqlite'}"
