"""AppTest for the classroom: the teacher's view opens only with its key, and a student under
locks gets exactly the lesson's setup, whatever the session sends."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.lab import classroom
from core.lab.runs import start_run
from tests.support.pages import APP, page_alone, run_page

SETUP = classroom.Setup(
    pages=("train",),
    variants=("vanilla", "conv"),
    locks={"vanilla": {"epochs": 2, "code_size": 8}},
    max_epochs=10,
    max_subset=1000,
)


@pytest.fixture
def lesson(lab_store):
    """A class with SETUP; returns (class id, teacher key)."""
    class_id, key = classroom.create_class(lab_store, "Lesson 3")
    classroom.save_setup(lab_store, key, SETUP)
    return class_id, key


def teacher_page(key: str | None) -> AppTest:
    app = AppTest.from_file(str(APP.parent / "pages/class.py"), default_timeout=120)
    if key is not None:
        app.query_params["teacher"] = key
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def test_the_teacher_view_opens_only_with_the_teacher_key(lab_store, lesson):
    class_id, key = lesson
    _, token = classroom.join(lab_store, classroom.class_code(key))
    for wrong in (classroom.class_code(key), token, key[:-2]):
        app = teacher_page(wrong)
        assert [e.value for e in app.error] and "not valid" in app.error[0].value
        assert not app.toggle and not app.tabs  # No control at all.
        assert "teacher" not in app.query_params
    app = teacher_page(key)
    assert app.title[0].value == "Class: Lesson 3"
    assert [tab.label for tab in app.tabs] == ["Board", "Runs and students", "Setup", "Challenges"]
    app.toggle(key="class_paused").set_value(True).run()
    assert lab_store.class_row(class_id).paused
    title = next(item for item in app.text_input if item.label == "Title")
    title.set_value("Smallest code")
    next(b for b in app.button if b.label == "Add the challenge").click().run()
    assert not app.exception, [item.value for item in app.exception]
    found = classroom.class_challenges(lab_store, class_id)
    assert [c.title for c in found] == ["Smallest code"] and found[0].metric == "bce"


def test_creating_a_class_on_the_page_and_turning_it_off(monkeypatch, lab_store):
    app = teacher_page(None)
    next(item for item in app.text_input if item.label == "Class name").set_value("Lesson 4")
    next(b for b in app.button if b.label == "Create the class").click().run()
    assert not app.exception, [item.value for item in app.exception]
    key = app.query_params["teacher"]
    assert classroom.teacher_class(lab_store, key).name == "Lesson 4"
    assert app.title[0].value == "Class: Lesson 4"
    monkeypatch.setenv("AE_ALLOW_CLASS_CREATION", "0")
    app = teacher_page(None)
    assert not [b for b in app.button if b.label == "Create the class"]
    assert "python -m core.classroom create" in app.info[0].value


def test_a_student_gets_exactly_the_lessons_setup(lab_store, lesson):
    class_id, key = lesson
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params["class"] = classroom.class_code(key)
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    token = app.query_params["me"]
    assert "class" not in app.query_params  # Joined once; a reload keeps the personal link.
    assert app.sidebar.selectbox(key="variant").options == ["Vanilla", "Convolutional"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("pages/inside.py")  # Hidden pages are not in the navigation at all.

    train = page_alone("pages/train.py", token=token)
    epochs, code = train.slider(key="epochs_vanilla"), train.select_slider(key="code_size_vanilla")
    assert epochs.disabled and epochs.value == 2 and code.disabled and code.value == 8
    assert not train.select_slider(key="batch_size_vanilla").disabled
    options = train.select_slider(key="subset_vanilla").options
    assert max(int(option.replace(",", "")) for option in options) == 1000
    # Forged values for the locked widgets, as a crafted websocket message would set them:
    # the server still trains with the teacher's values.
    train.session_state["epochs_vanilla"] = 9
    train.session_state["code_size_vanilla"] = 256
    train.select_slider(key="learning_rate_vanilla").set_value(1e-3)
    next(b for b in train.button if b.label == "Train").click().run()
    assert not train.exception, [item.value for item in train.exception]
    student = lab_store.find_student(token)
    run = lab_store.runs(student)[0]
    assert run.epochs_total == 2 and run.settings["model"]["code_size"] == 8
    assert run.settings["train"]["learning_rate"] == 1e-3 and run.class_id == class_id
    lab_store.request_stop(run.id, student)


def test_a_paused_class_disables_train_and_nicknames_show_as_typed(lab_store, lesson):
    _, key = lesson
    student, token = classroom.join(lab_store, classroom.class_code(key))
    classroom.rename(lab_store, student, "**Bo** <b>x</b> :red[y]")
    classroom.set_paused(lab_store, key, True)
    train = page_alone("pages/train.py", token=token)
    assert next(b for b in train.button if b.label == "Train").disabled
    assert any("paused" in item.value for item in train.info)
    page = run_page("pages/class.py", token=token)
    text = page.markdown[0].value
    # Escaped for Markdown: rendered, it reads exactly as typed (no bold, no HTML, no colour).
    assert r"\*\*Bo\*\* \<b\>x\</b\> \:red\[y\]" in text


def test_a_student_whose_runs_miss_the_rules_is_told_why(lab_store, lesson):
    import numpy as np

    _, key = lesson
    classroom.add_challenge(
        lab_store, key, classroom.Challenge("Tiny", constraints={"code_size": {"max": 4}})
    )
    student, token = classroom.join(lab_store, classroom.class_code(key))
    run_id = start_run(lab_store, student, "vanilla", {})  # Code size locked to 8.
    lab_store.claim(run_id, "test:0")
    lab_store.add_epoch(run_id, 2, {"loss": 0.2}, np.zeros((8, 28, 28, 1)), epochs_done=2)
    lab_store.finish(run_id, "finished", metrics={"bce": 0.2})
    page = run_page("pages/class.py", token=token)
    hints = [item.value for item in page.caption if "None of your finished runs" in item.value]
    assert len(hints) == 1
    classroom.set_on_board(lab_store, student, False)
    page = run_page("pages/class.py", token=token)
    assert not [item for item in page.caption if "None of your finished runs" in item.value]
