"""TLS for the lab's Dask cluster, without TensorFlow: `deploy.certs` makes a CA and per-part
certificates that `dask scheduler --tls-*` (docs/DEPLOY.md's command) and
`core.cluster.scheduler.security_from_environment` (the app's and the workers' `AE_DASK_TLS_*`)
accept;
a plain-tcp peer and a certificate another CA signed are refused; a half-given setting is an
error that names the variable; a worker given a tls:// address and no certificate stops
before it loads TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cluster.scheduler import TLS_VARIABLES, security_from_environment, uses_tls
from deploy import certs
from tests.support.servers import ROOT, free_port


def test_each_part_gets_a_private_key_and_a_certificate_the_ca_signed(tmp_path):
    from cryptography import x509

    made = certs.create(tmp_path / "tls", ["scheduler", "worker-1"])
    folder = tmp_path / "tls"
    ca = x509.load_pem_x509_certificate((folder / certs.CA_FILE).read_bytes())
    added = certs.create(folder, ["app-a"])  # Later: signed by the same CA.
    for name, files in {**made, **added}.items():
        assert files["AE_DASK_TLS_CA_FILE"] == str(folder / certs.CA_FILE)
        certificate = x509.load_pem_x509_certificate(Path(files["AE_DASK_TLS_CERT"]).read_bytes())
        certificate.verify_directly_issued_by(ca)  # Raises if another key signed it.
        assert certificate.subject.rfc4514_string().startswith(f"CN={name},")
        assert Path(files["AE_DASK_TLS_KEY"]).stat().st_mode & 0o777 == 0o600
    assert (folder / certs.CA_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    with pytest.raises(ValueError, match="a part's name"):
        certs.create(folder, ["../etc"])
    sealed = tmp_path / "sealed"  # As `make cluster` makes them: no CA key, nothing to add.
    certs.create(sealed, ["scheduler"], keep_ca_key=False)
    assert not (sealed / certs.CA_KEY_FILE).exists()
    with pytest.raises(ValueError, match="without its key"):
        certs.create(sealed, ["worker-9"])


def test_the_settings_are_all_or_nothing_and_name_what_is_wrong(tmp_path):
    files = certs.create(tmp_path, ["app"])["app"]
    none = security_from_environment({})  # Dask's own configuration: no TLS by default.
    assert not any(uses_tls(none, role) for role in ("client", "scheduler", "worker"))
    assert not none.require_encryption
    given = security_from_environment(files)
    assert all(uses_tls(given, role) for role in ("client", "scheduler", "worker"))
    assert given.require_encryption
    with pytest.raises(ValueError, match="together"):
        security_from_environment({"AE_DASK_TLS_CA_FILE": files["AE_DASK_TLS_CA_FILE"]})
    with pytest.raises(ValueError, match=r"AE_DASK_TLS_KEY=.*no such file"):
        security_from_environment({**files, "AE_DASK_TLS_KEY": str(tmp_path / "missing.pem")})
    assert set(files) == set(TLS_VARIABLES)


@pytest.fixture
def tls_scheduler(tmp_path):
    """`dask scheduler` over TLS as docs/DEPLOY.md starts it, with `deploy.certs`' files."""
    parts = certs.create(tmp_path / "tls", ["scheduler", "app"])
    scheduler = parts["scheduler"]
    port = free_port()
    process = subprocess.Popen(
        [
            f"{os.path.dirname(sys.executable)}/dask",
            "scheduler",
            "--protocol",
            "tls",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
            "--tls-ca-file",
            scheduler["AE_DASK_TLS_CA_FILE"],
            "--tls-cert",
            scheduler["AE_DASK_TLS_CERT"],
            "--tls-key",
            scheduler["AE_DASK_TLS_KEY"],
        ],
        stderr=subprocess.DEVNULL,
    )
    yield f"tls://127.0.0.1:{port}", parts["app"]
    process.terminate()
    process.wait(timeout=30)


def test_a_tls_scheduler_lets_in_only_certificates_its_ca_signed(tls_scheduler, tmp_path):
    from distributed import Client
    from distributed.security import Security

    address, app = tls_scheduler
    deadline = time.monotonic() + 60
    while True:  # The scheduler imports Dask and starts listening (a few seconds).
        try:
            client = Client(
                address,
                security=security_from_environment(app),
                timeout=5,
                set_as_default=False,
            )
            break
        except OSError:
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
    with client:
        assert client.run_on_scheduler(os.getpid) != os.getpid()  # It ran there.
    stranger = certs.create(tmp_path / "elsewhere", ["app"])["app"]
    # Another CA's certificate, from a client that does trust the cluster's CA.
    foreign = security_from_environment(
        {**stranger, "AE_DASK_TLS_CA_FILE": app["AE_DASK_TLS_CA_FILE"]}
    )
    for refused in [
        {"address": address.replace("tls://", "tcp://")},
        {"address": address, "security": foreign},
        {"address": address, "security": Security.temporary()},
    ]:
        started = time.monotonic()
        with pytest.raises(OSError):  # Dask's CommClosedError: reset, or TLS refused.
            Client(timeout=5, set_as_default=False, **refused)
        assert time.monotonic() - started < 5  # Refused, not timed out.


def test_a_worker_without_certificates_for_a_tls_address_stops_at_once(tmp_path):
    """Before TensorFlow's training data load, with the variables to set: about 2 s each here
    (the worker checks its settings before it imports Keras)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AE_DASK_TLS_")}
    done = subprocess.run(
        [sys.executable, "-m", "core.cluster.worker", f"tls://127.0.0.1:{free_port()}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "AE_DASK_TLS_CA_FILE" in done.stderr
    files = certs.create(tmp_path, ["worker"])["worker"]
    done = subprocess.run(
        [sys.executable, "-m", "core.cluster.worker", f"tcp://127.0.0.1:{free_port()}"],
        cwd=ROOT,
        env={**environment, **files},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "must be tls://" in done.stderr
    assert "TensorFlow and the data loaded" not in done.stderr
