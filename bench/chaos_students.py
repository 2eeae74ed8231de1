"""The chaos harness's students (`bench.chaos`): one Chromium session each, through HAProxy on
the Train page, pressing Train, following each run to its end (continuing it through the
store when it ends continuable), and checking that the page shows only the student's runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

from bench.chaos_lab import (
    ARTIFACTS,
    CONTINUABLE,
    ENDED,
    IDLE,
    RUN_TIMEOUT,
    WATCH_EXCEPTIONS,
    Lab,
    Tracked,
    newest_run,
    track,
)


async def open_train(page, url: str) -> None:
    await page.goto(url, wait_until="domcontentloaded", timeout=180_000)
    await page.wait_for_selector("h1:has-text('Train an autoencoder')", timeout=180_000)
    await page.wait_for_selector(IDLE, timeout=180_000)


async def shown_run_ids(page) -> tuple[set[int], int]:
    """The run ids the page shows: the "Your runs" table's first column and the open run's
    heading ("Run 12: Vanilla"); and how many came from the table."""
    ids: set[int] = set()
    in_table = 0
    for heading in await page.locator("h3").all_inner_texts():
        if found := re.match(r"\s*Run (\d+):", heading):
            ids.add(int(found.group(1)))
    tables = page.locator("[data-testid=stDataFrame]")
    for index in range(await tables.count()):
        rows = tables.nth(index).locator("[role=row]")
        for row in range(1, await rows.count()):
            cells = await rows.nth(row).locator("[role=gridcell]").all_inner_texts()
            if cells and cells[0].strip().isdigit():
                ids.add(int(cells[0].strip()))
                in_table += 1
    return ids, in_table


async def check_view(lab: Lab, page, index: int) -> None:
    """Every run id the student's page shows must be one of that student's runs."""
    student_id = lab.students[index][0]
    try:
        shown, in_table = await shown_run_ids(page)
    except Exception:  # The page is reconnecting or rerunning: the next check reads it.
        return
    if not shown:
        return
    owners = await lab.db(owners_of, lab.store, sorted(shown))
    lab.found.view_checks += 1
    lab.found.table_rows_read += in_table
    for run_id in sorted(shown):
        if owners.get(run_id) != student_id:
            lab.found.cross_views.append(
                f"student {index} (id {student_id}) was shown run {run_id} of student "
                f"{owners.get(run_id)}"
            )


def owners_of(store, ids: list[int]) -> dict[int, int]:
    import sqlalchemy as sa

    from core.store.schema import runs

    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(runs.c.id, runs.c.student_id).where(runs.c.id.in_(ids))
        ).all()
    return {row.id: row.student_id for row in rows}


async def press_train(lab: Lab, page, url: str, index: int) -> bool:
    """Press Train once it is enabled; reload the page if it stays disabled (a page that
    missed its run's end, or lost its server) or the button cannot be found."""
    button = page.get_by_role("button", name="Train", exact=True)
    for attempt in range(6):
        if lab.stopping.is_set():
            return False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            latest = await newest_run(lab, lab.students[index][0])
            if latest is not None and latest.active:  # A click that raised but got through.
                return True
            with contextlib.suppress(Exception):
                if await button.count() and await button.is_enabled():
                    await page.wait_for_selector(IDLE, timeout=30_000)
                    await button.click(timeout=10_000)
                    return True
            await asyncio.sleep(1.0)
        why = ""
        with contextlib.suppress(Exception):
            why = " | ".join(await page.locator("[data-testid=stAlert]").all_inner_texts())
            await page.screenshot(path=str(ARTIFACTS / f"chaos-student-{index}-disabled.png"))
        lab.found.log(
            f"student {index}: Train stays disabled, reloading (try {attempt + 1}); the page "
            f"says: {why[:300]!r}"
        )
        with contextlib.suppress(Exception):
            await open_train(page, url)
    return False


async def student(lab: Lab, browser, index: int) -> None:
    """One student for the whole experiment: Train, wait for the run's end (continuing it
    when it is interrupted), check the page, and again."""
    found = lab.found
    student_id, token = lab.students[index]
    url = f"{lab.cluster.url}/train?variant=vanilla&me={token}"
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    page.on("pageerror", lambda error: found.page_errors.append(f"student {index}: {error}"))
    await page.expose_function(
        "chaosException",
        lambda text: found.exceptions.append(f"student {index} ({found.phase()}): {text}"),
    )
    await page.add_init_script(WATCH_EXCEPTIONS)
    try:
        await open_train(page, url)
        while not lab.stopping.is_set():
            latest = await newest_run(lab, student_id)
            if latest is not None and latest.active:  # Left from a press that did not show.
                await follow(lab, page, index, track(lab, latest.id, student_id))
                continue
            before = latest.id if latest else 0
            if not await press_train(lab, page, url, index):
                continue
            deadline = time.monotonic() + 45
            run = None
            while time.monotonic() < deadline:
                run = await newest_run(lab, student_id)
                if run is not None and run.id > before:
                    break
                run = None
                await asyncio.sleep(0.5)
            if run is None:  # The press was lost (its server died, the store was down).
                found.log(f"student {index}: a Train press made no run, reloading")
                with contextlib.suppress(Exception):
                    await open_train(page, url)
                continue
            await follow(lab, page, index, track(lab, run.id, student_id))
        await check_view(lab, page, index)
    finally:
        with contextlib.suppress(Exception):
            await context.close()


async def follow(lab: Lab, page, index: int, tracked: Tracked) -> None:
    """Until the run is finished (continuing it each time it ends continuable), or lost."""
    from core.store import Busy, Refused

    found = lab.found
    last_view = 0.0
    started = time.monotonic()
    deadline = started + RUN_TIMEOUT
    next_note = started + 120  # A run this slow is worth a line in the timeline, each minute.
    while True:
        if time.monotonic() > next_note:
            next_note += 60
            run = await lab.db(lab.store.run, tracked.id)
            if run is not None:
                found.log(
                    f"student {index}: run {run.id} still {run.status} ({run.phase}) after "
                    f"{time.monotonic() - started:.0f} s: epoch {run.epochs_done}/"
                    f"{run.epochs_total}, worker {run.worker}, message {run.message!r}"
                )
        if time.monotonic() - last_view > 5:
            last_view = time.monotonic()
            await check_view(lab, page, index)
        run = await lab.db(lab.store.run, tracked.id)
        if run is None:
            tracked.final, tracked.note = "deleted", "the run disappeared"
            break
        if run.status in ENDED:
            if tracked.first_end is None:
                tracked.first_end, tracked.first_status = time.time(), run.status
                tracked.phase = found.phase()
            if run.status == "finished" or run.status not in CONTINUABLE:
                tracked.final = run.status
                if run.status != "finished":
                    tracked.note = run.message or ""
                break
            if run.epochs_done >= run.epochs_total:  # Nothing left to continue.
                tracked.final, tracked.note = run.status, "ended complete but not finished"
                break
            tracked.interruptions += 1
            found.log(
                f"student {index}: run {run.id} {run.status} after {run.epochs_done}/"
                f"{run.epochs_total} epochs ({run.message}); continuing it"
            )
            try:
                await lab.db(lab.store.continue_run, run.id, run.student_id)
            except Busy:
                await asyncio.sleep(1.0)
                continue
            except Refused as error:
                tracked.final, tracked.note = run.status, f"continue refused: {error}"
                break
            tracked.continued += 1
        if time.monotonic() > deadline:
            tracked.final, tracked.note = run.status, f"stuck {run.status} for {RUN_TIMEOUT} s"
            break
        await asyncio.sleep(1.0)
