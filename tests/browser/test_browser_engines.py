"""Every device a class brings: WebKit (Safari's engine) and Firefox besides Chromium, phone,
tablet and laptop sizes, fingers and keyboards.

The smoke tests drive Debian's WebKitGTK and Firefox ESR (tests/support/engines.py); the layout
tests run in all three engines at 390x844 (a phone), 820x1180 (a tablet: the sidebar starts
open) and 1280x800 (a laptop, sidebar open), with the same in-page checks
(tests/support/layout_checks.py).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from core.ml import variants
from tests.support import engines
from tests.support.browser import IDLE, URL_PATHS
from tests.support.layout_checks import (
    CLIPPED_TEXT,
    PAD_CORNERS,
    SETTLED,
    SHORT_FRAMES,
    TOUCH_TARGETS,
    evaluate_body,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SIZES = {"phone": (390, 844), "tablet": (820, 1180), "laptop": (1280, 800)}
# Chromium also at the narrowest phone the lab promises and a small laptop (sidebar open: the
# issue measured 190 of the pad's 280 pixels there).
CHROMIUM_SIZES = {**SIZES, "small-phone": (360, 740), "small-laptop": (1024, 768)}
TOUCH = {"phone", "small-phone", "tablet"}

# A "7" in the pad's own fractions: a bar across the top, then down to the bottom left.
SEVEN = [(0.3, 0.2), (0.5, 0.2), (0.7, 0.2), (0.6, 0.45), (0.5, 0.65), (0.4, 0.85)]

RESULTS = """
const results = document.querySelector('.st-key-draw_results');
if (!results) return null;
const images = Array.from(results.querySelectorAll('img'));
const pictures = images.filter(i => i.complete && i.naturalWidth > 0);
return {text: results.innerText, pictures: pictures.length, loading: images.some(i => !i.complete),
        sizes: pictures.map(i => Math.round(i.getBoundingClientRect().width))};
"""
# The results once every picture in them has loaded (or failed to) and the page's script has
# finished: counted after that. They appear only after a stroke, so they also prove the rerun.
RESULTS_LOADED = (
    f"const r = (function() {{ {RESULTS} }})();"
    "const app = document.querySelector('[data-testid=stApp]');"
    "return r && !r.loading && r.pictures >= 3"
    " && app.getAttribute('data-test-script-state') === 'notRunning' && r;"
)

PAD_FRAME = """
const frame = document.querySelector('[data-testid=stMain] iframe');
if (!frame || !frame.contentDocument) return null;
const digit = frame.contentDocument.getElementById('digit');
const slider = frame.contentDocument.getElementById(arguments[0] || 'z1');
if (!digit || !digit.dataset.renders || !slider) return null;
if (arguments[1]) frame.scrollIntoView({block: 'start'});
const f = frame.getBoundingClientRect(), s = slider.getBoundingClientRect();
const pixels = Array.from(digit.getContext('2d').getImageData(0, 0, 28, 28).data)
  .filter((_, i) => i % 4 === 0);
return {z: digit.dataset.z, renders: Number(digit.dataset.renders), pixels,
        slider: [f.left + s.left, f.top + s.top, s.width, s.height]};
"""

TOOLBAR_AND_TEXT_ABOVE = """() => {
  const toolbar = document.querySelector('[data-testid=stElementToolbar]');
  const above = toolbar.closest('[data-testid=stElementContainer]').previousElementSibling;
  return [toolbar.getBoundingClientRect().top, above.getBoundingClientRect().bottom];
}"""


def open_lab(page, url: str) -> None:
    """Load a page of the lab and wait until app.py's page has run. Like test_browser's
    `open_page`, but the sidebar may be a closed drawer (phones): attached, not visible."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(IDLE, timeout=60_000)
    page.locator("[data-testid=stSidebar]", has_text="Autoencoder Lab").wait_for(
        state="attached", timeout=60_000
    )
    page.wait_for_selector(IDLE, timeout=60_000)


def settle(page) -> None:
    """Wait until the charts, pictures and frames that draw after the script are drawn."""
    page.wait_for_function(f"() => (function() {{ {SETTLED} }})()", timeout=30_000)
    next_paint(page)


def next_paint(page) -> None:
    """Wait for the browser to paint twice: styles and layout changed before are on screen."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


@pytest.fixture(scope="module")
def display():
    """An X display for WebKitGTK (Xvfb), unless the tests already run with one."""
    process = engines.start_display()
    yield
    if process is not None:
        process.terminate()


def launch(engine: str, width: int, height: int) -> engines.Engine:
    reason = engines.missing(engine)
    if reason:
        pytest.fail(reason)
    return engines.open_engine(engine, width, height)


STROKES = """
const host = Array.from(document.querySelectorAll('*'))
  .find(e => e.shadowRoot && e.shadowRoot.querySelector('.drawing-pad canvas[data-ready]'));
return host ? Number(host.shadowRoot.querySelector('.drawing-pad canvas').dataset.strokes || 0)
  : null;
"""


def draw(browser: engines.Engine, points) -> None:
    """Real pointer input along `points` (fractions of the pad), in whichever engine, until
    the pad has counted the stroke (its `data-strokes`)."""
    # Under a loaded suite a WebDriver stroke was sometimes dropped before the pad (a frame
    # re-rendered by the page's run) received it, and no rerun followed: the stroke is drawn
    # again, at most twice more. A stroke the pad counted must cause a rerun (the caller's
    # idle() fails otherwise), so a pad that stops sending its drawing still fails.
    for attempt in range(3):
        # The pad is a component that mounts after the page's first paint: wait for it.
        found = browser.wait(f"return (function() {{ {PAD_CORNERS} }})()", what="the drawing pad")
        assert found, "no drawing pad on the page"
        before = browser.js(STROKES)
        x, y, width, height = found["box"]
        browser.actions(
            engines.stroke_actions([(x + fx * width, y + fy * height) for fx, fy in points])
        )
        try:
            browser.wait(
                f"const n = (function() {{ {STROKES} }})(); return n !== null && n > {before};",
                timeout=10.0,
                what="the pad to count the stroke",
            )
            return
        except TimeoutError:
            if attempt == 2:
                raise


@pytest.mark.parametrize("engine", engines.ENGINES)
def test_every_page_a_drawing_and_the_pad_in(engine, display, app_server, artifacts):
    browser = launch(engine, 1280, 900)
    try:
        for path, title in URL_PATHS.items():
            browser.open(f"{app_server}/{path}")
            heading = browser.js("return document.querySelector('h1').textContent.trim()")
            assert heading == title, (engine, path)
            assert (
                browser.js("return document.querySelectorAll('[data-testid=stException]').length")
                == 0
            ), (engine, path)

        # Draw a digit with the pointer and see it reconstructed.
        browser.open(f"{app_server}/draw")
        draw(browser, SEVEN)
        shown = browser.wait(RESULTS_LOADED, timeout=120, what="the reconstruction")
        assert "Vanilla reconstruction" in shown["text"]
        assert "Every variant on the same input" in shown["text"]
        # Input, reconstruction, error; then every variant.
        assert shown["pictures"] == 3 + len(variants.names())
        assert len(set(shown["sizes"][3:])) == 1, shown["sizes"]  # One thumbnail size.
        browser.save(artifacts / f"{engine}-draw-drawn.png")

        # Drag the pad's z1 slider: the digit is decoded again, in the page.
        browser.open(f"{app_server}/latent?variant=vae")
        before = browser.wait(
            f"return (function() {{ {PAD_FRAME} }})()", "z1", True, what="the latent pad"
        )
        x, y, width, height = browser.js(f"return (function() {{ {PAD_FRAME} }})()", "z1", False)[
            "slider"
        ]
        middle = (x + width / 2, y + height / 2)  # z1 starts at 0, the middle of -3..3.
        browser.actions(engines.stroke_actions([middle, (middle[0] + width / 4, middle[1])]))
        after = browser.wait(
            f"const p = (function() {{ {PAD_FRAME} }})(); return p && p.z !== arguments[0] && p;",
            before["z"],
            what="the pad's digit to follow the slider",
        )
        assert float(after["z"].split(",")[0]) > 0.5, after["z"]
        assert after["renders"] > before["renders"]
        change = np.abs(np.array(after["pixels"], float) - np.array(before["pixels"], float))
        assert change.max() > 50, "the digit did not change"
        browser.save(artifacts / f"{engine}-latent-moved.png")
    finally:
        browser.quit()


def check_layout(evaluate, engine: str, size: str, path: str) -> None:
    clipped = evaluate(CLIPPED_TEXT)
    assert clipped == [], (engine, size, path, clipped)
    assert evaluate(SHORT_FRAMES) == [], (engine, size, path)


def check_pad(evaluate, engine: str, size: str) -> None:
    found = evaluate(PAD_CORNERS)
    assert found, (engine, size, "no drawing pad")
    for corner in found["corners"]:
        assert corner["on_screen"] and corner["is_canvas"], (engine, size, found)
    assert found["box"][2] == pytest.approx(found["box"][3], abs=1)  # Still square.


# Every size in English; the three the issue names in Chinese too (its texts wrap otherwise).
LAYOUTS = [(size, "en") for size in CHROMIUM_SIZES] + [(size, "zh") for size in SIZES]


@pytest.mark.parametrize(("size", "language"), LAYOUTS, ids=lambda value: value)
def test_layout_in_chromium(size, language, browser, app_server, artifacts):
    width, height = CHROMIUM_SIZES[size]
    touch = size in TOUCH
    # A Chinese browser (navigator.language zh-CN) gets the Chinese pages without ?lang=.
    context = browser.new_context(
        viewport={"width": width, "height": height},
        has_touch=touch,
        is_mobile=touch,
        locale="zh-CN" if language == "zh" else "en-US",
    )
    page = context.new_page()
    try:
        for path in URL_PATHS:
            open_lab(page, f"{app_server}/{path}")
            settle(page)  # Charts and frames draw after the script ends.
            if language == "zh":
                title = page.locator("h1").first.inner_text()
                assert re.search(r"[\u4e00-\u9fff]", title), (size, path, title)
                assert "lang=" not in page.url  # The browser's language is not a choice.
                page.screenshot(path=str(artifacts / f"chromium-zh-{width}-{path or 'home'}.png"))
            if "phone" not in size:  # On a phone the sidebar is a drawer over the page.
                expect(page.locator("[data-testid=stSidebar][data-collapsed=false]")).to_have_count(
                    1, timeout=30_000
                )
            check_layout(lambda body: evaluate_body(page, body), "chromium", size, path)
            if path == "draw":
                page.locator(".drawing-pad canvas[data-ready]").wait_for(timeout=60_000)
                check_pad(lambda body: evaluate_body(page, body), "chromium", size)
            if touch:
                small = [
                    target
                    for target in evaluate_body(page, TOUCH_TARGETS)
                    if target["width"] < 40 or target["height"] < 40
                ]
                assert small == [], (size, path, small)
            if touch and path == "compare":  # A tap shows the table's toolbar, not over text.
                table = page.locator("[data-testid=stDataFrame]").first
                table.scroll_into_view_if_needed()
                table.tap()
                page.wait_for_selector("[data-testid=stElementToolbar]", timeout=10_000)
                toolbar_top, text_bottom = page.evaluate(TOOLBAR_AND_TEXT_ABOVE)
                assert toolbar_top >= text_bottom - 1, (size, toolbar_top, text_bottom)
        if language == "en":
            page.screenshot(path=str(artifacts / f"chromium-{size}-class.png"))
    finally:
        context.close()


@pytest.mark.parametrize("engine", engines.ENGINES)
def test_layout_and_screenshots_in(engine, display, app_server, artifacts):
    for size, (width, height) in SIZES.items():
        browser = launch(engine, width, height)
        try:
            for path in ("draw", "latent?variant=vae"):
                browser.open(f"{app_server}/{path}")
                browser.wait("return true")
                if path == "draw":  # The pad mounts after the page's first paint.
                    browser.wait(f"return (function() {{ {PAD_CORNERS} }})()", what="the pad")
                    check_pad(browser.body, engine, size)
                    draw(browser, SEVEN)
                    browser.wait(RESULTS_LOADED, timeout=120, what="the reconstruction")
                else:
                    browser.wait(
                        f"return (function() {{ {PAD_FRAME} }})()",
                        "z1",
                        False,
                        what="the latent pad",
                    )
                    browser.wait(SETTLED, what="the charts, pictures and pad to draw")
                check_layout(browser.body, engine, size, path)
                name = path.split("?")[0]
                browser.js("document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
                browser.save(artifacts / f"{engine}-{name}-{width}.png")
        finally:
            browser.quit()


def test_keyboard_reaches_every_draw_control_with_a_visible_outline(browser, app_server):
    """Tab through the Draw page: every control of the main column takes the focus in turn,
    shows an outline (or a focus ring drawn as a shadow), and Space operates a choice."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        open_lab(page, f"{app_server}/draw?variant=vanilla")
        page.locator("h1").click()  # Start from the page, not the address bar.
        seen = []
        for _ in range(60):
            page.keyboard.press("Tab")
            focus = page.evaluate(
                """() => { const e = document.activeElement;
                  const main = document.querySelector('[data-testid=stMain]');
                  const s = getComputedStyle(e);
                  // The scrolling main area itself takes the focus once (to scroll by keys).
                  const area = e.querySelector && e.querySelector('h1');
                  return {inMain: main.contains(e) && !area, label: (e.innerText || e.getAttribute(
                    'aria-label') || e.tagName).trim().slice(0, 30),
                    outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0
                      || s.boxShadow !== 'none'}; }"""
            )
            if focus["inMain"]:
                seen.append(focus)
                assert focus["outline"], f"no visible focus on {focus['label']}"
            if focus["label"] == "Clear":
                break
        labels = [item["label"] for item in seen]
        for control in ["Reconstruct", "Draw", "Clear"]:  # A choice group is one Tab stop.
            assert any(control in label for label in labels), labels
        # Within a group the arrow keys move, Space chooses: Draw -> Upload -> Test digit.
        page.get_by_role("radio", name="Draw", exact=True).focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.innerText.trim()") == "Test digit"
        page.keyboard.press("Space")
        page.wait_for_selector("text=Test image #", timeout=60_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        page.wait_for_selector("text=Vanilla reconstruction", timeout=60_000)
    finally:
        page.close()


FOCUSED = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const top = document.activeElement;
  // In the latent pad's frame the focus is on the frame's own slider.
  const e = top && top.tagName === 'IFRAME' && top.contentDocument
    ? top.contentDocument.activeElement : top;
  if (!e || e === document.body || !main.contains(top) || e.querySelector('h1'))
    return null;  // Outside the main column, or the scrolling area itself.
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return null;
  return {
    label: (e.getAttribute('aria-label') || e.innerText || e.id || e.tagName).trim().slice(0, 40),
    key: top.tagName + '|' + e.tagName + '|' + e.id + '|' + Math.round(r.left) + '|'
      + Math.round(r.top + main.scrollTop),
  };
}"""


def looks(page, handle) -> bytes | None:
    """The pixels of an element and 6 pixels around it (where a focus ring is drawn)."""
    box = handle.bounding_box()
    if box is None:
        return None
    return page.screenshot(
        clip={
            "x": max(box["x"] - 6, 0),
            "y": max(box["y"] - 6, 0),
            "width": box["width"] + 12,
            "height": box["height"] + 12,
        },
        animations="disabled",
        caret="hide",
    )


@pytest.mark.parametrize("path", [path for path in URL_PATHS if path])
def test_keyboard_reaches_every_control_of_a_page_with_a_visible_focus(browser, app_server, path):
    """Tab from the top of each page until the focus comes round again. Each control of the
    main column it lands on must look different with the focus than without it: the pixels
    around it are compared when it has the focus and after the next Tab has moved on."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        open_lab(page, f"{app_server}/{path}")
        settle(page)
        page.locator("h1").click()
        seen: set[str] = set()
        unmarked = []
        for _ in range(150):
            page.keyboard.press("Tab")
            focus = page.evaluate(FOCUSED)
            if focus is None:
                continue
            if focus["key"] in seen:
                break  # Round the page once.
            seen.add(focus["key"])
            handle = page.evaluate_handle(
                "() => { const t = document.activeElement; return t.tagName === 'IFRAME'"
                " ? t.contentDocument.activeElement : t; }"
            ).as_element()
            next_paint(page)  # The focus style is drawn (`looks` ends its transitions).
            focused = looks(page, handle)
            page.evaluate(
                "() => { const t = document.activeElement; (t.tagName === 'IFRAME'"
                " ? t.contentDocument.activeElement : t).blur(); }"
            )
            next_paint(page)
            if focused is not None and focused == looks(page, handle):
                unmarked.append(focus["label"])
            handle.focus()  # Back where it was, so the next Tab goes on from here.
        assert seen, f"the keyboard reaches nothing on /{path}"
        assert unmarked == [], (path, unmarked)
    finally:
        page.close()


def touch_stroke(page, points) -> None:
    """A finger along `points` (viewport pixels): touch events through Chromium's DevTools
    protocol, the way a phone sends them (`page.mouse` would be a mouse)."""
    cdp = page.context.new_cdp_session(page)
    kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
    for kind, (x, y) in zip(kinds, points, strict=True):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_a_finger_draws_on_a_phone_and_moves_a_slider_from_beside_its_thumb(
    browser, app_server, artifacts
):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    try:
        open_lab(page, f"{app_server}/draw?variant=vanilla")
        page.locator(".drawing-pad canvas[data-ready]").wait_for(timeout=60_000)
        pad = evaluate_body(page, PAD_CORNERS)
        x, y, width, height = pad["box"]
        touch_stroke(page, [(x + fx * width, y + fy * height) for fx, fy in SEVEN])
        page.wait_for_selector("text=Vanilla reconstruction", timeout=60_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        # Right under the pad, on screen without scrolling: the reconstruction itself.
        picture = page.locator(".st-key-draw_results img").nth(1).bounding_box()
        assert picture["y"] + picture["height"] <= 844, picture
        page.screenshot(path=str(artifacts / "chromium-phone-touch-drawn.png"))

        # The Epochs slider's 12-pixel thumb, touched 16 pixels to its left, dragged right.
        open_lab(page, f"{app_server}/train?variant=vanilla")
        slider = page.locator("[data-testid=stSlider]", has_text="Epochs").first
        field = slider.locator("input[type=range]")
        before = field.evaluate("e => Number(e.value)")
        thumb = field.locator("xpath=../..")
        thumb.scroll_into_view_if_needed()
        box = thumb.bounding_box()
        start = (box["x"] + box["width"] / 2 - 16, box["y"] + box["height"] / 2)
        touch_stroke(page, [(start[0] + step * 15, start[1]) for step in range(7)])
        page.wait_for_selector(IDLE, timeout=60_000)
        assert field.evaluate("e => Number(e.value)") > before
    finally:
        context.close()
