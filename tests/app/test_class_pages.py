"""AppTest for the classroom: the teacher's view opens only with its key, and a student under
locks gets exactly the lesson's setup, whatever the session sends."""

from __future__ import annotations

import contextvars

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
    assert [tab.label for tab in app.tabs] == [
        "Board",
        "Runs and students",
        "Setup",
        "Challenges",
        "Datasets",
    ]
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


def test_the_board_speaks_to_whoever_looks_at_it(lab_store, lesson):
    _, key = lesson
    teacher = teacher_page(key)
    said = " ".join(item.value for item in teacher.info)
    assert "When you set a challenge" in said and "your teacher" not in said
    _, token = classroom.join(lab_store, classroom.class_code(key))
    student = run_page("pages/class.py", token=token)
    assert "When your teacher sets one" in " ".join(item.value for item in student.info)


def texts(app: AppTest, kind: str) -> str:
    return " | ".join(item.value for item in getattr(app, kind))


def test_saving_the_setup_and_the_locks_says_what_changed_or_why_not(lab_store, lesson):
    class_id, key = lesson
    app = teacher_page(key)
    next(item for item in app.slider if item.label == "Most epochs per run").set_value(5)
    next(b for b in app.button if b.label == "Save the setup").click().run()
    assert not app.exception, [item.value for item in app.exception]
    said = texts(app, "success")
    assert "Saved the setup: at most 5 epochs per run" in said and "next click" in said
    assert texts(app, "toast") == "Saved the setup."  # Seen even with Save at the fold.
    assert classroom.Setup.from_json(lab_store.class_row(class_id).setup).max_epochs == 5
    # A lock offers only what the class's limits allow (a lock over a limit would be clamped).
    assert app.select_slider(key="lockvalue_vanilla_epochs").options[-1] == "5"

    app.checkbox(key="lock_vanilla_batch_size").check()
    app.checkbox(key="lock_vanilla_epochs").uncheck()
    next(b for b in app.button if b.label == "Save the locks of Vanilla").click().run()
    said = texts(app, "success")
    assert "Saved the locks of Vanilla" in said and "batch size locked at 64" in said
    assert "epochs unlocked" in said and "Saved the setup" not in said  # Shown once.
    saved = classroom.Setup.from_json(lab_store.class_row(class_id).setup)
    assert saved.locked("vanilla") == {"code_size": 8, "batch_size": 64}

    # Refused by the server's check: said where the teacher pressed Save, nothing saved.
    next(item for item in app.multiselect if item.label == "Variants").set_value([])
    next(b for b in app.button if b.label == "Save the setup").click().run()
    assert "A class needs at least one variant." in texts(app, "warning")
    assert texts(app, "toast") == "Not saved: a class needs at least one variant."
    assert not texts(app, "success")
    assert classroom.Setup.from_json(lab_store.class_row(class_id).setup) == saved


def test_the_challenge_form_empties_after_an_add_and_keeps_a_refused_one(lab_store, lesson):
    class_id, key = lesson
    app = teacher_page(key)

    def title():
        return next(item for item in app.text_input if item.label == "Title")

    def add():
        next(b for b in app.button if b.label == "Add the challenge").click().run()
        assert not app.exception, [item.value for item in app.exception]

    title().set_value("Smallest code")
    add()
    assert title().value == ""  # Ready for the next challenge.
    assert "Added the challenge **Smallest code**" in texts(app, "success") + texts(app, "warning")
    title().set_value("Best VAE")
    next(item for item in app.selectbox if item.label == "Ranked by").set_value("negative_elbo")
    variants_allowed = next(i for i in app.multiselect if i.label == "Variants allowed (none: any)")
    variants_allowed.set_value(["vanilla"])
    add()
    assert "measured only for Variational (VAE)" in texts(app, "warning")
    assert texts(app, "toast").startswith("Not added: ")
    assert title().value == "Best VAE"  # Nothing the teacher typed is lost.
    assert next(i for i in app.selectbox if i.label == "Ranked by").value == "negative_elbo"
    assert [c.title for c in classroom.class_challenges(lab_store, class_id)] == ["Smallest code"]
    next(b for b in app.button if b.label == "Remove").click().run()
    assert "Removed the challenge **Smallest code**" in texts(app, "success")
    assert not classroom.class_challenges(lab_store, class_id)


def tabs_id(app: AppTest) -> str:
    """The id of the page's tabs, as the browser gets it."""
    found = [b for b in app.main.children.values() if getattr(b, "type", None) == "tab_container"]
    return found[0].proto.id


def test_the_teachers_tab_stays_chosen_when_a_notice_above_goes(lab_store):
    """The browser keeps the chosen tab only while the tabs keep their id: unkeyed, their id
    was their place on the page, which the "Class created" notice above them moved, so the
    first Save after creating a class threw the teacher back to the Board tab."""
    app = teacher_page(None)
    next(item for item in app.text_input if item.label == "Class name").set_value("Lesson 4")
    next(b for b in app.button if b.label == "Create the class").click().run()
    assert "Class created" in texts(app, "success")
    before = tabs_id(app)
    next(b for b in app.button if b.label == "Save the setup").click().run()
    assert not app.exception, [item.value for item in app.exception]
    assert "Class created" not in texts(app, "success")
    assert before and tabs_id(app) == before


def test_a_teacher_fixes_the_class_language_and_its_students_read_it(lab_store, lesson):
    """The setup's "Language of the class's pages": saved with the setup, said in the change
    summary, carried by both links (`?lang=`), and in effect on every page of the class's
    students, whatever their browser or their own choice says."""
    from urllib.parse import parse_qs, urlsplit

    class_id, key = lesson
    app = teacher_page(key)
    language = app.radio(key="class_language")
    assert language.value == "each" and language.options == [
        "Each student's own",
        "English",
        "中文",
    ]
    assert all("lang=" not in item.value for item in app.code)  # Each student's own.
    language.set_value("zh")
    next(b for b in app.button if b.label == "Save the setup").click().run()
    assert not app.exception, [item.value for item in app.exception]
    assert "language of the class's pages: 中文" in texts(app, "success")
    assert classroom.Setup.from_json(lab_store.class_row(class_id).setup).language == "zh"
    # The rest of the setup is kept, and so is the language when the locks are saved.
    assert classroom.Setup.from_json(lab_store.class_row(class_id).setup).locks == SETUP.locks
    app.checkbox(key="lock_vanilla_batch_size").check()
    next(b for b in app.button if b.label == "Save the locks of Vanilla").click().run()
    assert classroom.Setup.from_json(lab_store.class_row(class_id).setup).language == "zh"
    student_link, teacher_link = (item.value for item in app.code)
    assert parse_qs(urlsplit(student_link).query)["lang"] == ["zh"]
    assert parse_qs(urlsplit(teacher_link).query)["lang"] == ["zh"]
    assert app.title[0].value == "Class: Lesson 3"  # The teacher's own page: their language.

    # A student of the class who chose English for themselves (`?lang=en`) reads Chinese.
    _, token = classroom.join(lab_store, classroom.class_code(key))
    student = contextvars.copy_context().run(chinese_student, token)
    assert not student.exception, [item.value for item in student.exception]
    assert student.session_state["language"] == "zh"
    assert student.query_params["lang"] == "zh"  # The link they keep says it too.
    assert student.sidebar.button_group(key="language_switch").disabled
    # The Chinese catalogue (locale/zh_CN) is built from the translators' work: the page reads it.
    assert student.title[0].value == "课堂"
    assert "排行榜" in student.expander[0].label  # "Your nickname and the board"


def chinese_student(token: str) -> AppTest:
    """The class page of a student who asked for English, through app.py. AppTest formats the
    widgets' values for the next run with their `format_func` in this thread, so this thread
    reads the page's language too (in a context of its own: other tests keep English)."""
    from core import i18n

    i18n.use("zh")
    student = AppTest.from_file(str(APP), default_timeout=120)
    student.query_params["me"] = token
    student.query_params["lang"] = "en"
    student.run()
    student.switch_page("pages/class.py")
    student.run()
    return student
