"""The embedded cluster's Dask scheduler, run by the app as its own process, and the TLS
settings every process of a cluster reads.

    python -m core.cluster.scheduler --parent PID      # prints its address, then serves

The app (`core.cluster.client`) starts it when no `AE_DASK_SCHEDULER` is configured. It listens on
loopback on a free port (two apps on one machine never collide), prints its address as the
first line of its output, and exits when the app that started it is gone, so a killed server
leaves no scheduler behind. A real cluster uses Dask's own `dask scheduler` instead.

A Dask scheduler or worker runs whatever function a connected client sends it, so nobody
without the cluster's certificate may connect: given `AE_DASK_TLS_CA_FILE`, `AE_DASK_TLS_CERT`
and `AE_DASK_TLS_KEY` (the app passes throwaway ones it made, `core.cluster.client`), it listens on
`tls://` only and refuses any peer whose certificate that CA did not sign.

It imports Dask and this module and, to read the tasks it is given, the modules that name
their functions (`core.cluster.tasks`, `core.cluster.submission`: the standard library only;
`import core` loads no Keras): it holds about 61 MB, 62 MB once tasks came (measured here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

# This process's certificate for the cluster: the CA that signed every part's certificate, and
# its own certificate and key (PEM files). The scheduler, the workers and the app's client each
# present theirs and check the other side's against the CA.
TLS_VARIABLES = ("AE_DASK_TLS_CA_FILE", "AE_DASK_TLS_CERT", "AE_DASK_TLS_KEY")


def security_from_environment(environ=os.environ):
    """This process's Dask `Security`: from `AE_DASK_TLS_*` (TLS required, one certificate for
    whichever role the process plays), else Dask's own configuration
    (`DASK_DISTRIBUTED__COMM__TLS__...`), which without TLS settings means plain tcp.

    Raises ValueError, naming the variable, for a half-given setting or a missing file: a
    worker started with a typo must say so, not fail later in a TLS handshake."""
    from distributed.security import Security

    ca, cert, key = (environ.get(name, "").strip() or None for name in TLS_VARIABLES)
    if ca is None and cert is None and key is None:
        return Security()
    if ca is None or cert is None:
        raise ValueError(
            "set AE_DASK_TLS_CA_FILE and AE_DASK_TLS_CERT together (and AE_DASK_TLS_KEY, unless "
            "the key is in the certificate's file)"
        )
    for name, path in zip(TLS_VARIABLES, (ca, cert, key), strict=True):
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"{name}={path}: no such file")
    # Dask picks the certificate by role (the scheduler listens with its own, a worker connects
    # and listens with its own, a client connects with its own): one process, one role.
    roles = {
        f"tls_{role}_{part}": value
        for role in ("client", "scheduler", "worker")
        for part, value in (("cert", cert), ("key", key))
    }
    return Security(require_encryption=True, tls_ca_file=ca, **roles)


def uses_tls(security, role: str) -> bool:
    """Whether `security` gives `role` ("client", "scheduler", "worker") a CA and a certificate
    (then the process speaks tls:// only)."""
    tls = security.get_tls_config_for_role(role)
    return bool(tls["ca_file"] and tls["cert"])


async def serve(host: str, port: int, parent: int | None, security) -> None:
    from distributed import Scheduler

    # No dashboard, and its small HTTP server (health, metrics) on any free loopback port.
    async with Scheduler(
        host=host,
        port=port,
        protocol="tls" if uses_tls(security, "scheduler") else "tcp",
        security=security,
        dashboard=False,
        dashboard_address="127.0.0.1:0",
    ) as scheduler:
        print(scheduler.address, flush=True)
        while parent is None or os.getppid() == parent:
            await asyncio.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cluster.scheduler", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--parent", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)
    try:
        security = security_from_environment()
    except ValueError as error:
        parser.error(str(error))
    asyncio.run(serve(args.host, args.port, args.parent, security))
    return 0


if __name__ == "__main__":
    sys.exit(main())
