"""Every `AE_*` setting of the lab, read in one place: `settings()`.

Where a value comes from, the first that has it wins:

1. a root-level entry of `.streamlit/secrets.toml` (the project's, then `~/.streamlit/`'s);
2. the environment;
3. the default below.

The secrets file wins because Streamlit copies its root-level entries into the app server's
environment at start-up, over what the shell exported; reading it here too makes the app, the
training workers it starts and the commands (`python -m core.store`) agree on every value.

A value that cannot be used (a limit that is not a positive number, a switch that is not
0/1) is ignored with a message, not a crash: a typo in a config file must not take the lab down
for everyone. The README's settings table is checked against `FIELDS` by a test.

Not here: where `core.ml` finds its files (`AE_CACHE_DIR`, `AE_FASHION_DIR`, `AE_TRAINED_DIR`,
read by `core.ml.data` and `core.ml.cards`). `core.ml` stands alone (a notebook, `python -m
core.train`) and imports nothing of the lab, like Keras reading `KERAS_HOME`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

import tomllib

from core.ml.choices import FEWEST_IMAGES, MOST_EPOCHS
from core.ml.data import ALL_IMAGES

LOG = logging.getLogger("autoencoder_lab.config")
SECRETS_FILES = (Path(".streamlit/secrets.toml"), Path.home() / ".streamlit" / "secrets.toml")


@dataclass(frozen=True)
class Settings:
    # Limits of a hosted lab (positive whole numbers, unless said otherwise).
    max_trainings: int = 1  # Trainings running at once; one keeps 2 cores responsive.
    max_epochs: int = MOST_EPOCHS
    max_subset: int = ALL_IMAGES
    # A run whose student has had no page open this long is stopped (and kept): a closed
    # laptop lid must not hold a training slot for the rest of the lesson. Decimals allowed
    # (0.5: half a minute, for a busy demo).
    abandon_minutes: float = 2
    # A running run whose worker has written no heartbeat (one every 2 s, from a thread of its
    # own) for this long is taken for lost and ends interrupted, its checkpoint kept; twice
    # this while Dask still lists the worker (frozen, or cut off). Decimals allowed. Raise it
    # on a machine so loaded that a live worker's heartbeat can lag; the tests lower it.
    lost_worker_seconds: float = 15
    max_runs_per_student: int = 30  # The oldest ended runs beyond this are deleted.
    run_retention_days: int = 30  # Ended runs older than this are deleted.
    # An embedded training worker exits after this long without work, handing back its
    # memory (about 800 MB with TensorFlow); the next run starts a new one. Decimals allowed
    # (the app hands its workers this as a float: "10.0" was refused with a warning).
    worker_idle_minutes: float = 10
    # Runs waiting to train, server-wide (every app server of one store shares the queue):
    # beyond it a new run is refused with "the lab is busy, try again in a minute", so a
    # public demo's queue cannot be filled by new links faster than it trains. A class of 30
    # racing four racers each fits under the default.
    max_queued: int = 200
    # Datasets of one's own images (the Your images page): the largest upload in MB, how many
    # datasets a student (or a class) keeps, and the MB all of them may take in the store.
    max_dataset_mb: int = 50
    max_datasets: int = 5
    max_datasets_total_mb: int = 500
    # Switches (0 or 1).
    allow_class_creation: bool = True  # 0: a public demo hides class creation on the page.
    # Where things are (text; empty: the default described in the README).
    database_url: str = ""  # The store's SQLAlchemy URL; SQLite in data_dir without it.
    data_dir: str = ""  # The default SQLite store's folder (~/.local/share/autoencoder-lab).
    dask_scheduler: str = ""  # An existing Dask scheduler to train on instead of our own.
    dask_tls_ca_file: str = ""  # With dask_scheduler and for workers: the cluster's CA,
    dask_tls_cert: str = ""  # this part's certificate
    dask_tls_key: str = ""  # and its key (PEM files).
    store_stats: str = ""  # A folder for each process's count of store statements (soak).

    @property
    def store_url(self) -> str:
        """The store's URL: `database_url`, else a SQLite file in `data_dir` (or its default)."""
        if self.database_url:
            return self.database_url
        folder = Path(self.data_dir) if self.data_dir else default_data_dir()
        return f"sqlite:///{folder / 'runs.sqlite'}"

    @classmethod
    def read(cls, *sources: Mapping[str, object]) -> tuple[Settings, list[str]]:
        """Settings from `AE_<FIELD>` in the first source that has each (the secrets file's
        entries, then the environment, in `settings()`); returns them and a message per value
        that was ignored."""
        values, problems = {}, []
        for item in FIELDS:
            key = variable(item.name)
            raw = next((source[key] for source in sources if key in source), None)
            if raw is None:
                continue
            value, problem = _parse(item.type, key, raw)
            if problem:
                problems.append(problem)
            else:
                values[item.name] = value
        found = cls(**values)
        # Above the page's own ranges a limit changes nothing; clamp so the UI stays simple.
        found = replace(
            found,
            max_epochs=min(found.max_epochs, MOST_EPOCHS),
            max_subset=min(max(found.max_subset, FEWEST_IMAGES), ALL_IMAGES),
        )
        return found, problems


FIELDS = fields(Settings)


def variable(name: str) -> str:
    """The environment variable of a field: `max_trainings` -> `AE_MAX_TRAININGS`."""
    return f"AE_{name.upper()}"


def _parse(kind: str, key: str, raw: object) -> tuple[object, str | None]:
    text = str(raw).strip()
    if kind in ("int", "float"):
        whole = kind == "int"
        try:
            number = int(text) if whole else float(text)
        except ValueError:
            number = 0
        if not 0 < number < float("inf"):  # Also refuses nan.
            what = "a positive whole number" if whole else "a positive number"
            return None, f"{key}={raw!r} is not {what}; using the default."
        return number, None
    if kind == "bool":
        if text.lower() in {"1", "true", "yes", "on"}:
            return True, None
        if text.lower() in {"0", "false", "no", "off"}:
            return False, None
        return None, f"{key}={raw!r} is not 0 or 1; using the default."
    return text, None


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "autoencoder-lab"


_parsed: dict[Path, tuple[tuple, dict]] = {}  # path -> (its stat, its AE_* entries)


def secrets_entries(files=None) -> dict[str, object]:
    """Root-level `AE_*` entries of the secrets files (the project's win over the user's); an
    unreadable file counts as empty, with a warning. A file is parsed again only if it changed."""
    found: dict[str, object] = {}
    for path in reversed(SECRETS_FILES if files is None else files):
        try:
            stat = path.stat()
        except OSError:
            continue
        seen = (stat.st_mtime_ns, stat.st_size)
        if _parsed.get(path, (None,))[0] != seen:
            try:
                with open(path, "rb") as file:
                    table = tomllib.load(file)
            except (OSError, tomllib.TOMLDecodeError) as error:
                LOG.warning("ignoring %s: %s", path, error)
                table = {}
            _parsed[path] = (seen, {k: v for k, v in table.items() if k.startswith("AE_")})
        found.update(_parsed[path][1])
    return found


_cache: dict[tuple, Settings] = {}


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The lab's settings now. Read once per distinct `AE_*` environment and secrets file
    (a test that sets a variable gets the new value; a server pays the read once)."""
    environ = os.environ if environ is None else environ
    secrets = secrets_entries()
    key = (
        tuple(sorted((k, v) for k, v in environ.items() if k.startswith("AE_"))),
        tuple(sorted((k, str(v)) for k, v in secrets.items())),
    )
    if key not in _cache:
        found, problems = Settings.read(secrets, environ)
        for problem in problems:
            LOG.warning("%s", problem)
        _cache.clear()  # One live configuration; a changed one replaces it.
        _cache[key] = found
    return _cache[key]
