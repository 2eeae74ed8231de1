"""HAProxy in front of the app servers, for `deploy.cluster`: its binary, its configuration
(`haproxy.cfg.template` beside this file, which docs/DEPLOY.md explains line by line) and its
view of the servers (the stats socket).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from deploy.processes import ClusterError, Part

TEMPLATE = Path(__file__).with_name("haproxy.cfg.template")


def haproxy_bin() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if not found:
        raise ClusterError(
            "HAProxy is not installed (Debian: apt-get install haproxy; `make cluster` runs "
            "scripts/ensure-haproxy)"
        )
    return found


def write_config(
    path: Path, haproxy: str, stats: Path, host: str, port: int, apps: list[Part]
) -> None:
    """The configuration for `apps` behind `host:port`, checked by HAProxy itself."""
    servers = "\n".join(
        f"  server {part.name} {part.address.removeprefix('http://')} check "
        f"cookie {part.name.removeprefix('app-')}"
        for part in apps
    )
    path.write_text(
        TEMPLATE.read_text().format(socket=stats, host=host, port=port, servers=servers)
    )
    checked = subprocess.run([haproxy, "-c", "-q", "-f", str(path)], capture_output=True, text=True)
    if checked.returncode:
        raise ClusterError(f"HAProxy refused its configuration: {checked.stderr}")


def servers(stats: Path) -> dict[str, dict[str, str]]:
    """HAProxy's view of each app server: status (UP/DOWN), current and total sessions."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(5)
        connection.connect(str(stats))
        connection.sendall(b"show stat\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    lines = data.decode().lstrip("# ").splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
    return {
        row["svname"]: {"status": row["status"], "current": row["scur"], "total": row["stot"]}
        for row in rows
        if row.get("pxname") == "app_servers" and row["svname"] not in {"BACKEND", "FRONTEND"}
    }
