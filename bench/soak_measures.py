"""What the soaks (`bench.soak`, `bench.cluster_soak`) measure besides the pages: CPU seconds
and resident memory of the processes involved, from /proc, and the Markdown table of results.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def report(rows, errors: list[str]) -> str:
    """A Markdown table of (figure, measured, goal, met or None), then the first errors."""
    lines = ["| figure | measured | goal | met |", "|---|---|---|---|"]
    for figure, measured, goal, met in rows:
        mark = "-" if met is None else ("yes" if met else "NO")
        lines.append(f"| {figure} | {measured} | {goal} | {mark} |")
    text = "\n".join(lines)
    if errors:
        text += "\n\nErrors:\n" + "\n".join(f"- {error}" for error in errors[:20])
    return text


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by the Streamlit server (with finished workers), running
    training workers, Chromium, and the harness (this script and Playwright), from /proc."""
    tick = 100.0  # USER_HZ on Linux.
    totals = {"server": 0.0, "workers": 0.0, "chromium": 0.0, "harness": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        own = (float(fields[11]) + float(fields[12])) / tick
        reaped = (float(fields[13]) + float(fields[14])) / tick
        if "streamlit run" in command:
            totals["server"] += own + reaped
        elif "core.cluster.worker" in command or "core.cluster.scheduler" in command:
            totals["workers"] += own  # The embedded training cluster.
        elif "chrom" in command:
            totals["chromium"] += own
        elif "playwright" in command or int(entry.name) == os.getpid():
            totals["harness"] += own  # This script and Playwright's driver.
    return totals


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident MB of the server process and of its child processes (training workers)."""
    from bench.browser import rss_mb

    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []

    def resident(kid: int) -> float:
        try:  # A worker may exit between the listing and the reading (or be a zombie: nan).
            return rss_mb(kid)
        except OSError:
            return float("nan")

    return rss_mb(pid), float(np.nansum([resident(kid) for kid in kids]))
