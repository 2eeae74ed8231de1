"""The multi-server topology of `make cluster` on loopback, for real: PostgreSQL, a Dask
scheduler, two training workers, two Streamlit servers and HAProxy in front (deploy.cluster).

A teacher locks a setup through the proxy; one student works through each app server (their
HAProxy cookie chooses it); both see the lock and the same board; one server is killed while
its student's page is open, and that page reconnects to the other with the student's work;
one training worker is killed mid-run, and its run ends interrupted while the other trains on.
"""

from __future__ import annotations

import os
import re
import time
from unittest.mock import patch

import pytest

from tests.support.browser import (
    IDLE,
    board_rows,
    create_locked_class,
    no_exceptions,
    open_page,
    slider_keys,
    wait_trained,
)
from tests.support.servers import new_tab

pytestmark = [pytest.mark.slow, pytest.mark.browser]
COOKIE = "LABSRV"  # HAProxy's stickiness cookie (deploy/cluster.py's configuration).


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from deploy.cluster import Cluster, ClusterError

    topology = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        # Its parts inherit the environment: a killed worker's run is interrupted after 8 s of
        # silence instead of 15 (a live worker writes its heartbeat every 2 s).
        with patch.dict(os.environ, {"AE_LOST_WORKER_SECONDS": "8"}):
            topology.up(port=0, servers=2, workers=2)
    except ClusterError as error:  # Its message holds the failing part's log.
        topology.down(quiet=True)
        pytest.fail(f"the cluster did not come up: {error}")
    yield topology
    topology.down()


def idle(page) -> None:
    page.wait_for_selector(IDLE, timeout=120_000)


def server_of(context) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == COOKIE), None)


def pinned(browser, url: str, server: str):
    """A browser context whose HAProxy cookie sends it to `server` ("a" or "b")."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": COOKIE, "value": server, "url": url}])
    return context


def test_the_clusters_dask_parts_let_in_only_its_certificates(cluster, tmp_path):
    """The scheduler and both workers speak TLS only: this command's own certificate is let
    in; a plain-tcp peer and a certificate another CA signed are refused; no CA key is left
    to sign a new one, and the parts' keys are private."""
    import asyncio
    import stat

    from distributed import Client
    from distributed.core import rpc
    from distributed.security import Security

    from deploy import certs

    def identity(address: str, security) -> dict:
        async def ask():
            connection_args = security.get_connection_args("client")
            async with rpc(address, timeout=5, connection_args=connection_args) as remote:
                return await remote.identity()

        # In a thread of its own: a test before this one (Playwright's sync API) may have
        # left an event loop running in this thread, where asyncio.run refuses to start.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, ask()).result()

    with Client(
        cluster.scheduler_address, security=cluster.security(), timeout=10, set_as_default=False
    ) as client:
        workers = list(client.scheduler_info(n_workers=-1)["workers"])
    assert len(workers) == 2 and cluster.scheduler_address.startswith("tls://")
    stranger = certs.create(tmp_path, ["stranger"])["stranger"]
    foreign = Security(
        require_encryption=True,
        tls_ca_file=cluster.tls_environment("client")["AE_DASK_TLS_CA_FILE"],
        tls_client_cert=stranger["AE_DASK_TLS_CERT"],
        tls_client_key=stranger["AE_DASK_TLS_KEY"],
    )
    for address in [cluster.scheduler_address, *workers]:
        assert address.startswith("tls://")
        assert identity(address, cluster.security())["type"] in {"Scheduler", "Worker"}
        with pytest.raises(OSError):
            identity(address.replace("tls://", "tcp://"), Security())
        with pytest.raises(OSError):
            identity(address, foreign)
    assert not (cluster.tls / certs.CA_KEY_FILE).exists()
    for key in cluster.tls.glob("*-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_students_on_two_servers_share_a_lesson_and_survive_a_server_crash(
    cluster, browser, artifacts
):
    proxy = cluster.url
    teacher_context = browser.new_context(viewport={"width": 1280, "height": 900})
    contexts = [teacher_context, pinned(browser, proxy, "a"), pinned(browser, proxy, "b")]
    teacher, *students = (new_tab(context) for context in contexts)
    try:
        # The teacher, through the proxy, creates the class, limits images, locks epochs.
        student_link = create_locked_class(teacher, proxy, "Lesson 4")
        assert server_of(teacher_context) in {"a", "b"}
        assert student_link.startswith(f"{proxy}/?class=")  # The proxy's address, not a server's.

        # One student on each app server: both see the teacher's lock, both train.
        links = []
        for student in students:
            open_page(student, student_link)
            links.append(student.url)
            student.locator("[data-testid=stSidebar] a[href$='/train']").click()
            student.wait_for_selector("h1:has-text('Train an autoencoder')", timeout=60_000)
            idle(student)
            form = student.locator("[data-testid=stForm]").inner_text()
            assert "Your teacher fixed epochs" in form, form
            student.get_by_test_id("stBaseButton-primaryFormSubmit").click()
            idle(student)
        assert [server_of(context) for context in contexts[1:]] == ["a", "b"]
        for student in students:
            wait_trained(student, "5 epoch")
        run_titles = [
            student.locator("h3", has_text=re.compile(r"^Run \d+")).first.inner_text()
            for student in students
        ]

        # Both servers' boards rank the same two runs.
        boards = []
        for student in students:
            student.locator("[data-testid=stSidebar] a[href$='/class']").click()
            student.wait_for_selector("h1:has-text('Class')", timeout=60_000)
            deadline = time.monotonic() + 30
            while len(board_rows(student)) < 2:
                assert time.monotonic() < deadline, board_rows(student)
                time.sleep(0.5)
            boards.append([row[:3] for row in board_rows(student)])
        assert [[row[2] for row in board] for board in boards] == [
            [row[2] for row in boards[0]]
        ] * 2
        assert sum(row[1].endswith("(you)") for row in boards[0]) == 1

        # The first student's link, opened through the other server, shows their run.
        elsewhere = new_tab(pinned(browser, proxy, "b"))
        open_page(elsewhere, links[0].replace("/?", "/train?", 1))
        elsewhere.wait_for_selector(f"h3:has-text('{run_titles[0]}')", timeout=60_000)
        assert server_of(elsewhere.context) == "b"
        elsewhere.context.close()

        # Server a crashes while the first student's page is open on it.
        first = students[0]
        first.locator("[data-testid=stSidebar] a[href$='/train']").click()
        first.wait_for_selector(f"h3:has-text('{run_titles[0]}')", timeout=60_000)
        idle(first)
        cluster.stop("app-a", kill=True)
        deadline = time.monotonic() + 60
        while server_of(contexts[1]) != "b":  # HAProxy redispatches its reconnection to b.
            assert time.monotonic() < deadline, "the page did not reconnect through the proxy"
            time.sleep(0.2)
        idle(first)
        first.wait_for_selector(f"h3:has-text('{run_titles[0]}')", timeout=60_000)
        assert first.get_by_text(re.compile(r"Trained 5 epoch")).count() >= 1
        assert "Your teacher fixed epochs" in first.locator("[data-testid=stForm]").inner_text()
        first.screenshot(path=str(artifacts / "cluster-after-failover.png"), full_page=True)
        servers = cluster.proxy_servers()
        assert servers["app-a"]["status"] == "DOWN" and servers["app-b"]["status"] == "UP"
        # A reload (a new session) on the surviving server: still the student's runs.
        first.goto(links[0].replace("/?", "/train?", 1), wait_until="domcontentloaded")
        open_page(first, first.url)
        first.wait_for_selector(f"h3:has-text('{run_titles[0]}')", timeout=60_000)
        for tab in (teacher, *students):
            no_exceptions(tab)
    finally:
        for context in contexts:
            context.close()
        from deploy.cluster import alive

        if not alive(cluster.parts["app-a"].pid):
            cluster.start("app-a")  # For the next test: the topology whole again.


def test_a_killed_worker_interrupts_its_run_and_the_other_trains_on(cluster, browser):
    from distributed import Client

    from core.store import Store
    from deploy.cluster import training_workers

    store = Store(cluster.database_url)
    contexts = [pinned(browser, cluster.url, server) for server in ("a", "b")]
    pages = [new_tab(context) for context in contexts]
    try:
        # Two students, one per app server, start long runs: one on each worker.
        for page in pages:
            open_page(page, f"{cluster.url}/train?variant=vanilla")
            # 5 -> 10 epochs: still training when a worker is killed after the first one.
            slider_keys(page, "Epochs", *["ArrowRight"] * 5)
            page.get_by_role("button", name="Train", exact=True).click()
            page.wait_for_selector("text=/Epoch [0-9]+\\/10 · batch/", timeout=120_000)
        tokens = [re.search(r"me=([\w-]+)", page.url).group(1) for page in pages]
        students = [store.find_student(token) for token in tokens]
        runs = [store.runs(student)[0].id for student in students]
        deadline = time.monotonic() + 120
        while not all(
            (run := store.run(run_id)).status == "running" and run.epochs_done >= 1
            for run_id in runs
        ):
            assert time.monotonic() < deadline, [store.run(r) for r in runs]
            time.sleep(0.5)
        workers = [store.run(run_id).worker for run_id in runs]
        assert len(set(workers)) == 2  # One per worker.
        with Client(
            cluster.scheduler_address,
            security=cluster.security(),
            timeout=10,
            set_as_default=False,
        ) as client:
            victim = training_workers(client)[workers[0]]
        cluster.stop(victim, kill=True)

        # The first student's page says the run was interrupted, weights kept; the second
        # student's run trains on to its end.
        pages[0].wait_for_selector("text=/Interrupted after [0-9]+ of 10/", timeout=90_000)
        assert (
            "training worker stopped"
            in pages[0].locator("[data-testid=stAlert]").all_inner_texts()[0]
        )
        lost = store.run(runs[0])
        assert lost.status == "interrupted" and lost.epochs_done >= 1
        wait_trained(pages[1], "10 epochs in")

        # The first student trains again (5 epochs: a run to its end, not a long one): the
        # remaining worker takes it.
        idle(pages[0])
        slider_keys(pages[0], "Epochs", *["ArrowLeft"] * 5)
        pages[0].get_by_role("button", name="Train", exact=True).click()
        wait_trained(pages[0], "5 epochs in")
        newest = store.runs(students[0])[0]
        assert newest.id != runs[0] and newest.status == "finished"
        assert newest.worker == workers[1]
        for page in pages:
            no_exceptions(page)
    finally:
        for context in contexts:
            context.close()
        store.close()
