"""Shared fixtures: the MNIST arrays, a served app and a headless Chromium for browser tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Tests never touch a user's own runs: every store they open (AppTest pages, served apps and
# their workers inherit the environment) lives in a throwaway folder.
os.environ.pop("AE_DATABASE_URL", None)
os.environ["AE_DATA_DIR"] = tempfile.mkdtemp(prefix="ae-lab-tests-")
ARTIFACTS = ROOT / "tests" / "artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine's network is closed: without these, Chromium keeps dialling Google.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """A Chromium or Chrome executable: `$AE_CHROMIUM`, else the first one on PATH."""
    override = os.environ.get("AE_CHROMIUM")
    if override:
        return override
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    """An unused localhost TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Block until Streamlit answers its health check, failing fast if the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"streamlit did not answer {url}/_stcore/health in {timeout} s")


def stop_server(process: subprocess.Popen) -> None:
    """Terminate a server, killing it if it does not exit within ten seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """`streamlit run app.py` on a free port, as a user would start it; yields its base URL."""
    yield from serve(tmp_path_factory.mktemp("server") / "streamlit.log")


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own, for tests about what the first request after a start sees."""
    yield from serve(tmp_path / "streamlit.log")


def serve(log_path: Path, environment: dict | None = None, port: int | None = None):
    """Run `streamlit run app.py` until the generator is closed, yielding its URL.

    `environment` adds variables (AE_DATA_DIR, AE_DATABASE_URL, ...) for this server only.
    Without a store of its own in `environment`, the server gets a fresh one beside its log:
    each server runs its own embedded training cluster, and two of them on one store would
    each take the other's queued runs (and this process's AppTest runs).
    """
    environment = dict(environment or {})
    if "AE_DATABASE_URL" not in environment:
        environment.setdefault("AE_DATA_DIR", str(log_path.parent / f"data-{log_path.stem}"))
    port = port or free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.headless=true",
                f"--server.port={port}",
                "--server.address=127.0.0.1",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **environment},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process)
        yield url
    finally:
        stop_server(process)
        server_log = log_path.read_text()
        if "Traceback" in server_log:
            print(server_log)


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Playwright; the browser tests need one and fail without."""
    executable = chromium_path()
    if executable is None:
        pytest.fail("No Chromium found: run scripts/ensure-chromium or set AE_CHROMIUM.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A fresh browser page (its own Streamlit session) that fails the test on page errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield new_tab(context)
    context.close()


def new_tab(context):
    """A page of `context` that records the page's JavaScript errors in `page_errors`."""
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.page_errors = errors
    return tab


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots taken by browser tests (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def postgres_url():
    """A new, empty database on the test run's PostgreSQL server (scripts/with-postgresql),
    dropped afterwards; skips with a reason when the tests run without one."""
    import uuid

    import sqlalchemy as sa

    server = os.environ.get("AE_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("no PostgreSQL server: run under scripts/with-postgresql (make test does)")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """An empty store of its own, on SQLite and on the PostgreSQL server (test_store,
    test_classroom)."""
    from core.store import Store

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    else:  # A database of its own per test, so tests never see each other's rows.
        url = request.getfixturevalue("postgres_url")
    opened = Store(url)
    yield opened
    opened.close()


@pytest.fixture
def lab_store():
    """The store the app under AppTest opens (the throwaway AE_DATA_DIR above)."""
    from core.store import Store

    opened = Store()
    yield opened
    opened.close()


@pytest.fixture
def stored_run(lab_store):
    """Puts a model into the store as an ended run of a new (or given) student, the way a
    worker leaves one; returns (token, run). The weights are the model's own, so a test can
    tell which model a page shows."""
    import numpy as np

    from core.ml.choices import settings_for
    from core.ml.training import TrainConfig

    def make(name, model, config, student=None, status="finished", epochs=1):
        student_id, token = student or lab_store.new_student()
        settings = settings_for(TrainConfig(epochs=epochs), config)
        run_id = lab_store.create_run(student_id, name, settings, epochs)
        lab_store.claim(run_id, "test:0")
        lab_store.add_epoch(
            run_id,
            epochs,
            {"loss": 0.2, "val_loss": 0.21},
            np.zeros((8, 28, 28, 1), np.float32),
            model.get_weights(),
            epochs_done=epochs,
        )
        lab_store.finish(run_id, status, metrics={"bce": 0.2, "mse": 0.05})
        return token, lab_store.run(run_id)

    return make


def store_at_revision(path, revision: str):
    """A new SQLite store at `path` migrated only up to `revision`, as an older lab left it:
    returns an open transaction's context manager (rows written in it are committed)."""
    import contextlib

    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from core.store import MIGRATIONS

    @contextlib.contextmanager
    def opened():
        engine = sa.create_engine(f"sqlite:///{path}")
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                yield connection
        finally:
            engine.dispose()

    return opened()
