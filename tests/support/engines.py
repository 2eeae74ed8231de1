"""WebKit and Firefox for the cross-engine tests, behind one small interface.

Chromium is driven by Playwright (tests/conftest.py). Playwright's own WebKit and Firefox builds
cannot be downloaded here, so these two are Debian's: WebKitGTK's MiniBrowser through
WebKitWebDriver with Selenium (the engine of Safari; it needs an X display, `xvfb-run` gives
one), and Firefox ESR through Marionette, Mozilla's own remote protocol, with its
`marionette-driver` client (no geckodriver). scripts/ensure-browsers installs both.

Both speak WebDriver's actions, so a stroke on the canvas or a drag of a slider is real pointer
input in each engine, sent as the same JSON.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.support.servers import free_port

WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
WEBKIT_BROWSERS = [  # MiniBrowser, WebKitGTK's own shell, by Debian's multiarch folder.
    "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
    "/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
]
FIREFOX = "/usr/bin/firefox-esr"
ENGINES = ("webkit", "firefox")
PHONE_FRAME_BELOW = 520  # CSS pixels: narrower viewports are framed (`Engine.narrow`).

IDLE_SCRIPT = """
const app = document.querySelector('[data-testid=stApp]');
return Boolean(app && app.getAttribute('data-test-script-state') === 'notRunning'
  && document.querySelector('h1'));
"""


def missing(engine: str) -> str | None:
    """Why `engine` cannot run here, or None when it can."""
    if engine == "webkit":
        if not os.path.exists(WEBKIT_DRIVER) or not webkit_browser():
            return "WebKitGTK is not installed: run scripts/ensure-browsers (webkit2gtk-driver)"
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            return "WebKitGTK needs a display: run under xvfb-run (make test does)"
        return None
    if engine == "firefox":
        return None if os.path.exists(FIREFOX) else "no Firefox ESR: run scripts/ensure-browsers"
    return f"unknown engine {engine}"


def webkit_browser() -> str | None:
    return next((path for path in WEBKIT_BROWSERS if os.path.exists(path)), None)


def stroke_actions(points: list[tuple[float, float]], pointer: str = "mouse") -> list[dict]:
    """WebDriver actions for pressing at the first point, moving through the rest, releasing;
    viewport coordinates in CSS pixels."""
    steps: list[dict] = [
        {"type": "pointerMove", "x": round(points[0][0]), "y": round(points[0][1]), "duration": 0},
        {"type": "pointerDown", "button": 0},
    ]
    for x, y in points[1:]:
        steps.append({"type": "pointerMove", "x": round(x), "y": round(y), "duration": 30})
    steps.append({"type": "pointerUp", "button": 0})
    return [
        {
            "type": "pointer",
            "id": f"{pointer}-1",
            "parameters": {"pointerType": pointer},
            "actions": steps,
        }
    ]


class Engine:
    """One browser window of WebKit or Firefox; see `open_engine`."""

    name: str

    def js(self, script: str, *args):
        """Runs `script` as a function body in the page (`arguments[i]`); returns its value."""
        raise NotImplementedError

    def go(self, url: str) -> None:
        raise NotImplementedError

    def window(self) -> tuple[int, int]:
        """The window's outer size."""
        raise NotImplementedError

    def resize(self, width: int, height: int) -> None:
        """Sets the window's outer size."""
        raise NotImplementedError

    def size(self, width: int, height: int) -> None:
        """Makes the viewport width x height: the window's frame adds pixels, so converge."""
        for _ in range(4):
            inner = self.js("return [window.innerWidth, window.innerHeight]")
            if inner == [width, height]:
                return
            outer = self.window()
            self.resize(outer[0] + width - inner[0], outer[1] + height - inner[1])

    def actions(self, actions: list[dict]) -> None:
        raise NotImplementedError

    def png(self) -> bytes:
        raise NotImplementedError

    def enter_frame(self) -> None:
        raise NotImplementedError

    def leave_frame(self) -> None:
        raise NotImplementedError

    def quit(self) -> None:
        raise NotImplementedError

    # Built on the above, the same in both engines -------------------------------------------

    def wait(self, script: str, *args, timeout: float = 60.0, what: str = ""):
        """Polls `script` until it returns something truthy; returns that."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: waited {timeout} s for {what or script}")
            time.sleep(0.2)

    framed: tuple[int, int] | None = None  # A phone's viewport inside a frame (see `narrow`).

    def narrow(self, width: int, height: int) -> None:
        """Pages open in a width x height frame at the window's top left from now on.

        Neither engine's window gets as narrow as a phone (Firefox stops at 500 pixels,
        MiniBrowser at 447): a same-origin frame of the phone's size is the viewport its
        pages lay out in, as in the engines' own responsive design modes. The window stays
        wide enough for the frame; scripts and actions then run inside the frame."""
        self.framed = (width, height)

    def open(self, url: str, marker: str = "Autoencoder Lab") -> None:
        """Loads `url` and waits for the page's script and the lab's sidebar text."""
        if self.framed:
            origin = "/".join(url.split("/")[:3])
            self.leave_frame()
            self.go(f"{origin}/_stcore/health")  # Any page of the origin: ours says "ok".
            self.js(
                "document.body.style.margin = '0';"
                "document.body.innerHTML = '';"
                "const f = document.createElement('iframe');"
                "f.style = `border: 0; width: ${arguments[1]}px; height: ${arguments[2]}px;"
                " display: block`;"
                "f.src = arguments[0]; document.body.append(f);",
                url,
                *self.framed,
            )
            self.enter_frame()
        else:
            self.go(url)
        self.wait(
            "const s = document.querySelector('[data-testid=stSidebar]');"
            "return Boolean(s && s.textContent.includes(arguments[0]));",
            marker,
            what="the lab's sidebar",
        )
        self.wait(IDLE_SCRIPT, what="Streamlit to finish the page")

    def body(self, body: str):
        """Runs one of tests/support/layout_checks.py's function bodies; returns its value."""
        return self.js(f"return (function() {{ {body} }})()")

    def save(self, path: Path) -> None:
        """A screenshot of what the page shows: the phone's frame, when framed."""
        data = self.png()
        if self.framed:
            import io

            from PIL import Image

            with Image.open(io.BytesIO(data)) as shot:
                scale = shot.width / self.js("return window.top.innerWidth")
                width, height = (round(side * scale) for side in self.framed)
                buffer = io.BytesIO()
                shot.crop((0, 0, width, height)).save(buffer, format="PNG")
                data = buffer.getvalue()
        path.write_bytes(data)


class WebKit(Engine):
    name = "webkit"

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        options = Options()
        # Both paths given: Selenium Manager would otherwise try to download a driver.
        options.binary_location = webkit_browser()
        options.add_argument("--automation")
        self.driver = webdriver.WebKitGTK(
            options=options, service=Service(executable_path=WEBKIT_DRIVER)
        )

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def go(self, url: str) -> None:
        self.driver.get(url)

    def window(self) -> tuple[int, int]:
        outer = self.driver.get_window_size()
        return outer["width"], outer["height"]

    def resize(self, width: int, height: int) -> None:
        self.driver.set_window_size(width, height)

    def actions(self, actions: list[dict]) -> None:
        self.driver.execute("actions", {"actions": actions})
        self.driver.execute("clearActionState")

    def png(self) -> bytes:
        return self.driver.get_screenshot_as_png()

    def enter_frame(self) -> None:
        self.driver.switch_to.frame(self.driver.find_element("css selector", "iframe"))

    def leave_frame(self) -> None:
        self.driver.switch_to.default_content()

    def quit(self) -> None:
        self.driver.quit()


class Firefox(Engine):
    name = "firefox"

    def __init__(self) -> None:
        from marionette_driver.marionette import Marionette

        self.client = Marionette(bin=FIREFOX, headless=True, port=free_port())
        self.client.start_session()

    def js(self, script: str, *args):
        return self.client.execute_script(script, script_args=list(args), sandbox=None)

    def go(self, url: str) -> None:
        self.client.navigate(url)

    def window(self) -> tuple[int, int]:
        rect = self.client.window_rect
        return rect["width"], rect["height"]

    def resize(self, width: int, height: int) -> None:
        self.client.set_window_rect(width=width, height=height)

    def actions(self, actions: list[dict]) -> None:
        self.client._send_message("WebDriver:PerformActions", {"actions": actions})
        self.client._send_message("WebDriver:ReleaseActions")

    def png(self) -> bytes:
        return base64.b64decode(self.client.screenshot())

    def enter_frame(self) -> None:
        from marionette_driver.by import By

        self.client.switch_to_frame(self.client.find_element(By.CSS_SELECTOR, "iframe"))

    def leave_frame(self) -> None:
        self.client.switch_to_frame()

    def quit(self) -> None:
        self.client.delete_session()
        self.client.cleanup()


def open_engine(engine: str, width: int = 1280, height: int = 900) -> Engine:
    """A window of `engine` whose pages lay out in width x height CSS pixels."""
    opened = WebKit() if engine == "webkit" else Firefox()
    if width < PHONE_FRAME_BELOW:
        opened.size(max(width, PHONE_FRAME_BELOW) + 40, height + 40)
        opened.narrow(width, height)
    else:
        opened.size(width, height)
    return opened


def start_display() -> subprocess.Popen | None:
    """An X display for WebKitGTK when the tests run without one (`make test` runs pytest
    under xvfb-run; a developer's plain `pytest` gets an Xvfb of its own here)."""
    if os.environ.get("DISPLAY") or not shutil.which("Xvfb"):
        return None
    for number in range(90, 110):
        if os.path.exists(f"/tmp/.X{number}-lock"):
            continue
        process = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", "1920x1200x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not os.path.exists(f"/tmp/.X11-unix/X{number}"):
            if process.poll() is not None:
                break
            time.sleep(0.1)
        if process.poll() is None:
            os.environ["DISPLAY"] = f":{number}"
            return process
    return None
