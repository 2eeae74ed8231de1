"""Served apps and Chromium for the browser tests, and the helpers bench/ uses too.

`serve` runs `streamlit run app.py` as a user would start it; `new_tab` opens a page that
records its JavaScript errors and counts the app's script runs (see `browser.wait_idle`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

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

# Counts the app's script runs in `window.aeScriptRuns`: each time Streamlit's app element
# turns to `running`. A wait for "the rerun my click caused has ended" then waits for the count
# to pass what it was, not for a guessed number of milliseconds (see `browser.wait_idle`).
COUNT_SCRIPT_RUNS = """
window.aeScriptRuns = 0;
new MutationObserver(changes => {
  // A run that starts and ends before this callback leaves its mark only in the old value
  // of the second change: count both a change to 'running' and one away from it.
  for (const change of changes) {
    const now = change.target.getAttribute('data-test-script-state');
    if (change.oldValue === 'running' || (now === 'running' && change.oldValue !== now)) {
      window.aeScriptRuns += 1;
    }
  }
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ['data-test-script-state']});
"""


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
            time.sleep(0.2)  # Polling a condition with a deadline: the server is starting.
    raise TimeoutError(f"streamlit did not answer {url}/_stcore/health in {timeout} s")


def stop_server(process: subprocess.Popen) -> None:
    """Terminate a server, killing it if it does not exit within ten seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


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


def new_tab(context):
    """A page of `context` that records the page's JavaScript errors in `page_errors` and
    counts the app's script runs (`COUNT_SCRIPT_RUNS`)."""
    tab = context.new_page()
    tab.add_init_script(COUNT_SCRIPT_RUNS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.page_errors = errors
    return tab
