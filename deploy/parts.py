"""The commands and environments of the `make cluster` topology's processes: what
docs/DEPLOY.md runs on several machines, here on loopback (`.cluster/state.json` keeps them,
and `deploy.cluster start NAME` runs one again).
"""

from __future__ import annotations

import sys
from pathlib import Path

from deploy.processes import HOST, ROOT, Part


def scheduler(port: int, dashboard_port: int, tls: dict[str, str]) -> Part:
    """Dask's own scheduler on `tls://` only, with its certificate."""
    command = [str(Path(sys.executable).parent / "dask"), "scheduler", "--protocol", "tls"]
    command += ["--host", HOST, "--port", str(port)]
    command += ["--tls-ca-file", tls["AE_DASK_TLS_CA_FILE"]]
    command += ["--tls-cert", tls["AE_DASK_TLS_CERT"], "--tls-key", tls["AE_DASK_TLS_KEY"]]
    command += ["--dashboard-address", f"{HOST}:{dashboard_port}"]
    environment = {
        # It unpickles the lab's tasks, whose functions are named by module: it imports
        # core.cluster.tasks (the standard library only), never TensorFlow.
        "PYTHONPATH": str(ROOT),
        # One run per worker thread, the rest queued on the scheduler in order.
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
    }
    return Part("scheduler", "scheduler", command, environment, address=f"tls://{HOST}:{port}")


def worker(name: str, scheduler: str, database_url: str, tls: dict[str, str]) -> Part:
    """A training worker (`python -m core.worker`) on the scheduler, with its certificate."""
    command = [sys.executable, "-m", "core.cluster.worker", scheduler]
    environment = {"AE_DATABASE_URL": database_url, "TF_CPP_MIN_LOG_LEVEL": "2", **tls}
    return Part(name, "worker", [*command, "--name", name, "--host", HOST], environment)


def app(
    name: str,
    port: int,
    scheduler: str,
    database_url: str,
    tls: dict[str, str],
    cookie_secret: str,
) -> Part:
    """An app server (`streamlit run app.py`) on the cluster's store and scheduler."""
    command = [sys.executable, "-m", "streamlit", "run", "app.py"]
    environment = {
        "AE_DATABASE_URL": database_url,
        "AE_DASK_SCHEDULER": scheduler,
        **tls,
        # Every server must read a cookie another one wrote.
        "STREAMLIT_SERVER_COOKIE_SECRET": cookie_secret,
    }
    return Part(
        name,
        "app",
        [*command, "--server.address", HOST, "--server.port", str(port)],
        environment,
        address=f"http://{HOST}:{port}",
    )
