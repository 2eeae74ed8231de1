"""A small `make chaos` (bench/chaos.py): two Chromium students train through HAProxy on the
`make cluster` topology while a training worker is killed (SIGKILL) and then another is frozen
(SIGSTOP) past the silent-worker limit and resumed. No run may be lost (every one finishes, or
ends interrupted with a checkpoint and finishes once continued), none written by two workers,
no page may raise, and no student may be shown another's run.

The experiment runs in its own process (its own asyncio Playwright and cluster, torn down on
exit or SIGTERM); this test reads the figures it writes as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
TIMEOUT = 900  # Generous: the experiment waits on conditions, and this machine is shared.
SLOW_SECONDS = 240


def test_a_class_trains_through_a_killed_and_a_frozen_worker(tmp_path):
    from deploy.cluster import Cluster

    figures = tmp_path / "chaos.json"
    state = tmp_path / "cluster"
    command = [
        sys.executable,
        "-m",
        "bench.chaos",
        "--students",
        "2",
        "--faults",
        "worker-kill,worker-freeze",
        "--warmup",
        "5",
        "--dwell",
        "5",
        "--state",
        str(state),
        "--json",
        str(figures),
        "--no-write",
    ]
    # A worker silent 8 s is lost (16 s while Dask lists it) instead of 15 and 30: the faults
    # take effect sooner, and the freeze lasts 26 s instead of 40. A live worker writes its
    # heartbeat every 2 s.
    environment = {**os.environ, "AE_LOST_WORKER_SECONDS": "8"}
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.terminate()  # bench.chaos tears its cluster down on SIGTERM.
        output, _ = process.communicate(timeout=60)
        pytest.fail(f"the chaos run took over {TIMEOUT} s:\n{output[-4000:]}")
    finally:
        if process.poll() is None:
            process.kill()
        leftover = Cluster(state)
        if leftover.running:
            leftover.down(quiet=True)
    assert figures.exists(), output[-4000:]
    result = json.loads(figures.read_text())
    if result.get("experiment_s", 0) > SLOW_SECONDS:
        # It passed, but slowly (CI once took 613 s where this machine takes 95-115 s): the
        # timeline goes to the warnings summary, the one place a passing test's output shows.
        warnings.warn(
            f"the chaos run took {result['experiment_s']:.0f} s:\n{output[-6000:]}", stacklevel=1
        )
    total = result["total"]
    shown = json.dumps({key: result[key] for key in ("rows", "lost_runs", "checks")}, indent=1)
    assert total["lost"] == 0, shown
    assert total["started"] >= 2, shown
    # Both faults hit a run mid-training (bench.chaos waits for one with a checkpoint).
    assert set(result["fault_notes"]) == {"worker-kill", "worker-freeze"}, result["fault_notes"]
    # The killed worker's run ended interrupted, and was continued to its end.
    killed = result["fault_notes"]["worker-kill"]["run"]
    interrupted = {run["id"]: run for run in result["interrupted_runs"]}
    assert killed in interrupted, result["interrupted_runs"]
    assert interrupted[killed]["final"] == "finished", interrupted[killed]
    # The frozen worker's run was interrupted past the silence limit, continued elsewhere and
    # finished; the resumed worker's writes were refused (the fencing checks below).
    frozen = result["fault_notes"]["worker-freeze"]["run"]
    assert frozen in interrupted, result["interrupted_runs"]
    assert interrupted[frozen]["final"] == "finished", interrupted[frozen]
    assert result["page_errors"] == [], result["page_errors"]
    assert result["exceptions"] == [], result["exceptions"]
    assert result["cross_views"] == [], result["cross_views"]
    assert result["view_checks"] > 0 and result["table_rows_read"] > 0  # Tables were read.
    assert all(problems == [] for problems in result["checks"].values()), result["checks"]
    assert process.returncode == 0, output[-4000:]
