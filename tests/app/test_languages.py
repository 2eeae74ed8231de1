"""Every page in Chinese: rendered through app.py with `?lang=zh` (as a link or the sidebar's
switch leaves it), in each of the states the page tests look at, with no exception and no
English left (tests.support.language reads every display string of every element: labels,
help texts, options, captions, chart titles, table headers); and the switch between languages
keeps the choice in the URL."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from core import i18n
from tests.support.language import element_texts, untranslated
from tests.support.pages import APP, VIEWS

pytestmark = pytest.mark.slow

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def reader_language():
    """AppTest calls a widget's format_func in the test's own thread too (to find an option
    by its label): that thread reads the language the test set, as the session's does."""
    before = i18n.language()
    yield
    i18n.use(before)


def chinese_app(**state) -> AppTest:
    i18n.use("zh")
    app = AppTest.from_file(str(APP), default_timeout=180)
    app.query_params["lang"] = "zh"
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    return app


@pytest.mark.parametrize("path", list(VIEWS))
def test_every_page_reads_chinese_in_every_state(path):
    views = VIEWS[path]
    app = chinese_app(**views[0])
    if path != "pages/home.py":
        app.switch_page(path)
        app.run()
    for index, state in enumerate(views):
        if index:  # The same session in the page's next state, as a reader's click leaves it.
            for key, value in state.items():
                app.session_state[key] = value
            app.run()
        assert not app.exception, [item.value for item in app.exception]
        assert HAN.search(app.title[0].value), app.title[0].value
        texts = element_texts(app)
        assert sum(bool(HAN.search(text)) for text in texts) >= 10, texts
        left = untranslated(app)
        assert not left, f"{path} {state}: English left:\n" + "\n".join(left)
        assert app.query_params["lang"] == "zh"


def test_the_switch_changes_the_language_and_keeps_it_in_the_url():
    app = chinese_app()
    title = app.title[0].value
    assert HAN.search(title)
    switch = app.sidebar.button_group(key="language_switch")
    assert switch.value == "zh"
    switch.set_value("en").run()  # The test's thread still reads the page it clicked on.
    i18n.use("en")
    assert not app.exception
    assert app.title[0].value == "Autoencoder Lab"
    assert app.query_params["lang"] == "en"
    app.switch_page("pages/draw.py")  # Another page: the choice follows.
    app.run()
    assert app.title[0].value == "Draw a digit"
    assert app.query_params["lang"] == "en"


def test_a_language_the_lab_does_not_speak_is_dropped_not_echoed():
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params["lang"] = "<b>xx</b>"
    app.run()
    assert not app.exception
    assert "lang" not in app.query_params
    assert app.title[0].value == "Autoencoder Lab"


def test_english_by_default_without_a_browser_language():
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    assert app.title[0].value == "Autoencoder Lab"
    assert "lang" not in app.query_params  # A language not chosen is not written in the link.
    # Chinese on an English page: the switch's label of the other language, and the source
    # texts' headings quoted as they are written (“使用自编码器重构输入”), so a reader finds them.
    unquoted = [re.sub(r"“[^”]*”", "", text) for text in element_texts(app)]
    chinese = [text for text in unquoted if HAN.search(text)]
    assert chinese == ["中文"], chinese
