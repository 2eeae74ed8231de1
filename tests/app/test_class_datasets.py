"""A class's own datasets: its teacher's uploads, in the teacher's Datasets tab, which every
student of the class finds in the sidebar, and the lesson's dataset they start on."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.lab import classroom
from core.ml import data, own_images
from tests.support.images import bar_pngs
from tests.support.pages import APP


@pytest.fixture
def class_upload(lab_store):
    """A class with one upload of its teacher's: (class id, teacher key, dataset name)."""
    class_id, key = classroom.create_class(lab_store, "Lesson 6")
    prepared = own_images.prepare(own_images.read_upload(bar_pngs(110, 24)), "resize", seed=0)
    dataset_id = classroom.add_class_dataset(lab_store, key, "our *bars*", prepared)
    return class_id, key, data.own_name(dataset_id)


def teacher(key: str) -> AppTest:
    app = AppTest.from_file(str(APP.parent / "pages/class.py"), default_timeout=120)
    app.query_params["teacher"] = key
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def student(code: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params["class"] = code
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def sidebar_dataset(app: AppTest):
    return next(box for box in app.sidebar.selectbox if box.label == "Dataset")


def test_the_lessons_dataset_is_where_the_classs_students_start(lab_store, class_upload):
    _class_id, key, name = class_upload
    app = teacher(key)
    # The tab lists the upload with its name escaped (the teacher's own words, as typed).
    assert any("our \\*bars\\*" in item.value for item in app.markdown)
    box = app.selectbox(key="lesson_dataset")
    assert box.options == [
        "Each student's own choice",
        "MNIST digits",
        "Fashion-MNIST",
        "our *bars*",
    ]
    box.set_value(name).run()
    assert not app.exception, [item.value for item in app.exception]
    assert classroom.teacher_class(lab_store, key).setup["dataset"] == name
    assert "the lesson's dataset: our \\*bars\\*" in app.success[0].value

    pupil = student(classroom.class_code(key))
    assert sidebar_dataset(pupil).value == name  # A class's upload, listed for its students.
    sidebar_dataset(pupil).set_value("mnist").run()  # They may still switch.
    assert sidebar_dataset(pupil).value == "mnist"
    pupil.run()
    assert sidebar_dataset(pupil).value == "mnist"  # And stay where they went...
    setup = classroom.Setup.from_json(classroom.teacher_class(lab_store, key).setup)
    classroom.save_setup(
        lab_store, key, classroom.Setup(**{**setup.__dict__, "dataset": "fashion"})
    )
    pupil.run()
    assert sidebar_dataset(pupil).value == "fashion"  # ...until the teacher picks another.


def test_a_student_outside_the_class_never_sees_its_upload(lab_store, class_upload):
    _class_id, _key, name = class_upload
    _, other_key = classroom.create_class(lab_store, "Lesson 7")
    app = student(classroom.class_code(other_key))
    app.query_params["data"] = name
    app.run()
    assert app.session_state["dataset"] == "mnist"
    assert not [box for box in app.sidebar.selectbox if box.label == "Dataset"]  # The two only.


def test_the_teacher_renames_and_deletes_the_classs_dataset(lab_store, class_upload):
    _class_id, key, name = class_upload
    dataset_id = data.own_id(name)
    app = teacher(key)
    app.text_input(key=f"class_rename_{dataset_id}").set_value("bars, 24 px")
    app.button(key=f"class_rename_go_{dataset_id}").click().run()
    assert not app.exception, [item.value for item in app.exception]
    assert lab_store.dataset_row(dataset_id).name == "bars, 24 px"
    app.button(key=f"class_delete_{dataset_id}").click().run()
    assert lab_store.dataset_row(dataset_id) is None
    assert app.selectbox(key="lesson_dataset").options[-1] == "Fashion-MNIST"
