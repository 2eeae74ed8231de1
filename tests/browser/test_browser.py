"""Real-browser test: serve the app with `streamlit run` and open every page in Chromium."""

from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.support.browser import (
    IDLE,
    URL_PATHS,
    choose_in_sidebar,
    no_exceptions,
    open_page,
    set_slider_to_minimum,
    wait_idle,
    wait_trained,
)
from tests.support.pages import INSIDE_SECTIONS
from tests.support.servers import new_tab, serve

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.parametrize("path", list(URL_PATHS))
def test_every_page_renders_in_chromium(app_server, page, artifacts, path):
    open_page(page, f"{app_server}/{path}")
    assert page.locator("h1").first.inner_text().strip() == URL_PATHS[path]
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.page_errors == []
    assert "Autoencoder Lab" in page.locator("[data-testid=stSidebar]").inner_text()
    page.screenshot(path=str(artifacts / f"page-{path or 'home'}.png"), full_page=True)


def test_shared_link_on_a_freshly_started_server(fresh_server, page):
    # The first request after a restart must still go through app.py: its sidebar, its page
    # list, and the variant the link names (Streamlit would otherwise run pages/draw.py alone).
    open_page(page, f"{fresh_server}/draw?variant=deep")
    sidebar = page.locator("[data-testid=stSidebar]")
    assert "About Deep" in sidebar.inner_text()
    expect(sidebar.locator("a[href$='/latent']")).to_have_count(1, timeout=30_000)
    # A page view writes no student: the link comes with the first thing that needs one.
    assert re.search(r"/draw\?variant=deep$", page.url), page.url
    sidebar.get_by_role("button", name="Your link").click()
    page.get_by_role("button", name="Get my link now").click()
    page.wait_for_url(re.compile(r"/draw\?variant=deep&me=[\w-]{32}$"), timeout=30_000)
    open_page(page, page.url)  # The link is known: its popover shows it, nothing to get.
    page.get_by_role("button", name="Your link").click()
    page.get_by_text(re.compile(r"me=[\w-]{32}")).first.wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Get my link now").count() == 0


def test_sidebar_navigation_reaches_every_page(app_server, page):
    open_page(page, app_server)
    nav = page.locator("[data-testid=stSidebarNav]")
    for path, title in list(URL_PATHS.items())[1:]:
        nav.locator(f"a[href$='/{path}']").click()
        page.wait_for_url(re.compile(rf"/{path}(\?.*)?$"))
        page.wait_for_selector(f"h1:has-text('{title}')", timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0


def test_draw_a_digit_and_see_it_reconstructed(app_server, page, artifacts):
    # As a first-time visitor: from Home, one click on the first step of "Start here", then
    # a drawing, and the reconstruction shows (issue 27: at most two clicks).
    open_page(page, app_server)
    page.get_by_role("link", name="1. Draw a digit").click()
    page.wait_for_url(f"{app_server}/draw*", timeout=30_000)
    canvas = page.locator(".drawing-pad canvas[data-ready]").first
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    # A "7": a bar across the top, then a diagonal down to the bottom.
    page.mouse.move(box["x"] + 80, box["y"] + 60)
    page.mouse.down()
    for x, y in [(140, 60), (200, 60), (170, 140), (140, 220)]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()
    page.wait_for_selector("text=Every variant on the same input", timeout=60_000)
    wait_idle(page)
    no_exceptions(page)
    expect(page.get_by_text("Vanilla reconstruction")).to_have_count(1, timeout=30_000)
    page.screenshot(path=str(artifacts / "draw-reconstruct.png"), full_page=True)
    page.get_by_text("Noise and denoise").click()
    page.wait_for_selector("text=Denoising autoencoder · PSNR", timeout=60_000)
    wait_idle(page)
    no_exceptions(page)
    page.screenshot(path=str(artifacts / "draw-denoise.png"), full_page=True)


def pad_state(pad) -> tuple[int, str]:
    digit = pad.locator("#digit")
    return int(digit.get_attribute("data-renders") or 0), digit.get_attribute("data-z")


def canvas_pixels(pad, element: str) -> np.ndarray:
    """The RGBA pixels of a canvas in the pad, at its own resolution."""
    data = pad.locator(f"#{element}").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
        ".concat([c.width, c.height])"
    )
    width, height = data[-2:]
    return np.array(data[:-2], np.uint8).reshape(height, width, 4)


def test_latent_pad_decodes_in_the_browser_like_keras(app_server, page, artifacts):
    from core.ml import cards
    from ui.plots import Scatter

    open_page(page, f"{app_server}/latent?variant=vae")
    pad = page.frame_locator("iframe").first
    pad.locator("#digit[data-renders]").wait_for(timeout=60_000)
    renders, z = pad_state(pad)
    assert z == "0.00,0.00"
    pad.locator("#z1").focus()
    for _ in range(10):  # Keyboard steps of 0.05, as in any slider.
        page.keyboard.press("ArrowRight")
    pad.locator("#digit[data-z='0.50,0.00']").wait_for(timeout=10_000)
    expect(pad.get_by_text("Decoded at z = (0.50, 0.00)")).to_have_count(1, timeout=30_000)
    assert pad_state(pad)[0] >= renders + 10  # One drawing per step, no server round trip.

    # The digit on screen is the Keras decoder's output at (0.5, 0), to within float16.
    vae = cards.load_model("vae")
    expected = np.asarray(vae.decoder(np.array([[0.5, 0.0]], np.float32)))[0, ..., 0]
    shown = canvas_pixels(pad, "digit")[..., 0] / 255.0
    assert np.abs(shown - expected).max() < 3 / 255

    # The sliders' crosshair (black in a white outline, ui.palette's mark) sits where the
    # scatter's axes put z = (0.5, 0): its right arm's black core, and white beside it.
    scatter = canvas_pixels(pad, "scatter")
    origin, scale = pad.locator("#digit").evaluate("() => [DATA.origin, DATA.scale]")
    x, y = Scatter(None, tuple(origin), tuple(scale)).to_pixels(0.5, 0.0)
    arm, outline = scatter[round(y), round(x) + 11], scatter[round(y) + 3, round(x) + 11]
    assert arm[:3].max() < 70 and outline[:3].min() > 190, (arm, outline)

    # A drag updates the digit while the thumb moves, not only when it is released.
    before = pad_state(pad)[0]
    box = pad.locator("#z2").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(box["x"] + box["width"] / 2 + 12 * step, box["y"] + box["height"] / 2)
    page.mouse.up()
    assert pad_state(pad)[0] >= before + 4
    page.screenshot(path=str(artifacts / "latent-moved.png"), full_page=True)

    # Away and back: the sliders are where they were left.
    left_at = pad_state(pad)[1]
    page.locator("[data-testid=stSidebarNav] a[href$='/draw']").click()
    page.wait_for_selector("h1:has-text('Draw a digit')", timeout=60_000)
    page.locator("[data-testid=stSidebarNav] a[href$='/latent']").click()
    page.wait_for_selector("h1:has-text('Explore the latent space')", timeout=60_000)
    pad = page.frame_locator("iframe").first
    pad.locator("#digit[data-renders]").wait_for(timeout=60_000)
    assert pad_state(pad)[1] == left_at
    assert page.page_errors == []


def test_train_one_epoch_then_stop_a_long_run(app_server, page, artifacts):
    open_page(page, f"{app_server}/train?variant=vanilla")
    set_slider_to_minimum(page, "Epochs")
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_selector("[data-testid=stProgress]", timeout=30_000)
    wait_trained(page, "1 epoch in", timeout=120_000)
    wait_idle(page)
    no_exceptions(page)
    # The loss chart: drawn by the run's fragment, which may rerun just after the page's.
    expect(page.locator("[data-testid=stVegaLiteChart]").first).to_be_visible(timeout=15_000)
    page.screenshot(path=str(artifacts / "train-done.png"), full_page=True)

    # A long run, stopped while it is going: the weights so far are kept. Started on a
    # phone's width, where the live view is under the settings: it scrolls into view.
    page.set_viewport_size({"width": 390, "height": 844})
    block = page.locator("[data-testid=stSlider]", has_text="Epochs").first
    block.get_by_role("slider").focus()
    page.keyboard.press("End")
    train = page.get_by_role("button", name="Train", exact=True)
    train.scroll_into_view_if_needed()
    panel = page.locator(".st-key-run_panel")
    expect(panel).not_to_be_in_viewport()
    train.click()
    page.wait_for_selector("text=/Epoch [0-9]+\\/50 · batch/", timeout=60_000)
    expect(panel).to_be_in_viewport(timeout=10_000)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.wait_for_selector("text=/Epoch [2-9]\\/50 · batch/", timeout=60_000)  # A curve to see.
    page.screenshot(path=str(artifacts / "train-live.png"), full_page=True)
    page.get_by_role("button", name="Stop", exact=True).click()
    page.wait_for_selector("text=Stopped after", timeout=60_000)
    wait_idle(page)
    no_exceptions(page)
    page.screenshot(path=str(artifacts / "train-stopped.png"), full_page=True)


def start_long_run(page, url: str) -> None:
    open_page(page, f"{url}/train?variant=vanilla")
    block = page.locator("[data-testid=stSlider]", has_text="Epochs").first
    block.get_by_role("slider").focus()
    page.keyboard.press("End")  # 50 epochs of all 55,000 images: far longer than this test.
    images = page.locator("[data-testid=stSlider]", has_text="Training images").first
    images.get_by_role("slider").focus()
    page.keyboard.press("End")
    page.get_by_role("button", name="Train", exact=True).click()


def test_second_student_queues_and_a_closed_tab_frees_the_slot(app_server, browser, artifacts):
    # The shared server stops a run 30 s after its student's last tab closed, and trains
    # one run at a time (AE_MAX_TRAININGS's default): no other test leaves a run going.
    import time

    url = app_server
    first = browser.new_context(viewport={"width": 1280, "height": 900})
    second = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        teacher = new_tab(first)
        start_long_run(teacher, url)
        try:  # A worker that has not trained yet loads TensorFlow first.
            teacher.wait_for_selector("text=/Epoch [0-9]+\\/50 · batch/", timeout=120_000)
        except Exception:
            teacher.screenshot(path=str(artifacts / "train-teacher-waiting.png"), full_page=True)
            raise

        student = new_tab(second)  # Another browser: another student, another link.
        start_long_run(student, url)
        try:
            student.wait_for_selector("text=Waiting for a free training slot", timeout=60_000)
        finally:
            student.screenshot(path=str(artifacts / "train-queued.png"), full_page=True)
            teacher.screenshot(path=str(artifacts / "train-teacher.png"), full_page=True)
        expect(student.get_by_text("you are next")).to_have_count(1, timeout=30_000)
        expect(student.get_by_role("button", name="Leave the queue")).to_have_count(
            1, timeout=30_000
        )

        closed = time.perf_counter()
        first.close()  # The first student's only tab goes: after 30 s their run stops.
        student.wait_for_selector("text=/Epoch [0-9]+\\/50 · batch/", timeout=150_000)
        waited = time.perf_counter() - closed
        print(f"queued tab started {waited:.1f} s after the training tab closed")
        # Not before AE_ABANDON_MINUTES, counted from the student's last recorded presence,
        # which the server refreshes every 10 s: at least 30 - 10 s after the close.
        assert waited >= 18, waited
        student.get_by_role("button", name="Stop", exact=True).click()
        student.wait_for_selector("text=Stopped after", timeout=60_000)
        student.wait_for_selector(IDLE, timeout=60_000)
        assert student.locator("[data-testid=stException]").count() == 0
    finally:
        for context in (first, second):
            with contextlib.suppress(Exception):  # The first was closed above.
                context.close()


def store_environment(backend: str, tmp_path, request) -> dict:
    """Server settings for a store on SQLite (a data folder) or PostgreSQL (a new database)."""
    if backend == "sqlite":
        return {"AE_DATA_DIR": str(tmp_path / "data")}
    return {"AE_DATABASE_URL": request.getfixturevalue("postgres_url")}


LIVE = "text=/Epoch [0-9]+\\/[0-9]+ · batch/"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_run_survives_a_reload_a_second_browser_and_a_restart(
    backend, tmp_path, request, browser, artifacts
):
    environment = store_environment(backend, tmp_path, request)
    server = serve(tmp_path / "first.log", environment)
    url = next(server)
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    other = browser.new_context(viewport={"width": 1280, "height": 1100})
    try:
        page = new_tab(context)
        open_page(page, f"{url}/train?variant=vanilla")
        block = page.locator("[data-testid=stSlider]", has_text="Epochs").first
        block.get_by_role("slider").focus()
        for _ in range(7):  # 5 -> 12 epochs of 10,000 images: a run of several seconds.
            page.keyboard.press("ArrowRight")
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_selector("text=/Epoch [2-9]\\/12 · batch/", timeout=90_000)
        link = page.url
        assert "me=" in link

        page.reload()  # F5 mid-training: the live view comes back and carries on.
        page.wait_for_selector(LIVE, timeout=60_000)
        expect(page.get_by_role("button", name="Stop", exact=True)).to_have_count(1, timeout=30_000)
        page.screenshot(path=str(artifacts / f"train-reloaded-{backend}.png"), full_page=True)

        second = new_tab(other)  # The same link in another browser: the same live run.
        second.goto(link, wait_until="domcontentloaded")
        second.wait_for_selector(LIVE, timeout=60_000)

        wait_trained(page, "12 epochs in", timeout=180_000)
        wait_trained(second, "12 epochs in", timeout=30_000)
        wait_idle(page)
        no_exceptions(page)
        expect(page.locator("[data-testid=stVegaLiteChart]").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(artifacts / f"train-after-reload-{backend}.png"), full_page=True)
    finally:
        context.close()
        other.close()
        server.close()  # Stops the server: a restart on the same store follows.

    server = serve(tmp_path / "second.log", environment)
    url = next(server)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = new_tab(context)
        token = re.search(r"me=([^&]+)", link).group(1)
        open_page(page, f"{url}/draw?variant=vanilla&me={token}")
        choose_in_sidebar(page, "Model", re.compile(r"Run \d+ · BCE"))
        page.get_by_text("Test digit", exact=True).click()
        page.wait_for_selector("text=/Vanilla \\(Run \\d+\\) reconstruction/", timeout=60_000)
        wait_idle(page)
        no_exceptions(page)
        page.screenshot(path=str(artifacts / f"draw-own-run-{backend}.png"), full_page=True)
    finally:
        context.close()
        server.close()


def test_inside_page_every_section_in_chromium(app_server, page, artifacts):
    page.set_viewport_size({"width": 1280, "height": 2200})  # Each section whole on screen.
    open_page(page, f"{app_server}/inside")
    for section in (
        "Features",
        "Sparse codes",
        "Copying",
        "Contraction",
        "Linear and PCA",
        "Few labels",
    ):
        page.locator("[data-testid=stButtonGroup] button", has_text=section).first.click()
        page.get_by_text(INSIDE_SECTIONS[section], exact=True).wait_for(timeout=120_000)
        page.wait_for_selector(IDLE, timeout=120_000)
        if section == "Few labels":
            page.get_by_role("button", name="Run experiment", exact=True).click()
            page.wait_for_selector("text=Test accuracy", timeout=120_000)
            page.wait_for_selector(IDLE, timeout=120_000)
        assert page.locator("[data-testid=stException]").count() == 0, section
        slug = section.lower().replace(" ", "-")
        page.screenshot(path=str(artifacts / f"inside-{slug}.png"), full_page=True)
    assert page.page_errors == []
