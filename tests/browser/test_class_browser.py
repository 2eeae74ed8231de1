"""A lesson in real Chromium: a teacher and three students, each in a browser context of their
own (separate cookies and sessions), run a challenge end to end on a served app."""

from __future__ import annotations

import re

import pytest

from tests.support.browser import (
    create_locked_class,
    idle,
    no_exceptions,
    open_page,
    slider_keys,
    wait_for_board_rows,
    wait_idle,
    wait_trained,
)
from tests.support.servers import new_tab

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_teacher_and_three_students_run_a_challenge(app_server, browser, artifacts):
    # On the shared server (its worker warm): one training at a time, so two of the three
    # students wait in the queue for a while.
    lesson_server = app_server
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(4)]
    teacher, *students = (new_tab(context) for context in contexts)
    try:
        student_link = create_locked_class(teacher, lesson_server, "Lesson 3")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?class=[\w-]{16}", student_link)
        assert re.search(r"/class\?.*teacher=[\w-]{32}", teacher.url)

        # Three students join with the student link and train, each with another rate.
        for index, student in enumerate(students):
            open_page(student, student_link)
            assert "class=" not in student.url and re.search(r"me=[\w-]{32}", student.url)
            sidebar = student.locator("[data-testid=stSidebar]")
            assert "Lesson 3" in sidebar.inner_text()
            sidebar.locator("a[href$='/train']").click()
            student.wait_for_selector("h1:has-text('Train an autoencoder')", timeout=60_000)
            idle(student)
            student.screenshot(path=str(artifacts / f"class-student-{index}-train.png"))
            assert (
                "Your teacher fixed epochs" in student.locator("[data-testid=stForm]").inner_text()
            )
            assert (
                "1,000"
                in student.locator(
                    "[data-testid=stSlider]", has_text="Training images"
                ).first.inner_text()
            )
            slider_keys(student, "Learning rate", *["ArrowLeft"] * (index * 2))
            student.get_by_test_id("stBaseButton-primaryFormSubmit").click()
            wait_idle(student, timeout=120_000)
        for student in students:
            wait_trained(student, "5 epoch")

        # The board ranks the three, on the teacher's view and on a student's, within seconds.
        teacher.get_by_role("tab", name="Board").click()
        try:
            rows = wait_for_board_rows(teacher, 3)
        except Exception:
            teacher.screenshot(path=str(artifacts / "class-teacher-board-failed.png"))
            raise
        assert [row[0] for row in rows] == ["1", "2", "3"]
        values = [float(row[2]) for row in rows]
        assert values == sorted(values) and len({row[1] for row in rows}) == 3
        assert all(row[3].startswith("data:image/png;base64,") for row in rows)
        teacher.screenshot(path=str(artifacts / "class-teacher-board.png"), full_page=True)
        first = students[0]
        first.locator("[data-testid=stSidebar] a[href$='/class']").click()
        first.wait_for_selector("h1:has-text('Class')", timeout=60_000)
        seen = wait_for_board_rows(first, 3)
        assert [row[2] for row in seen] == [row[2] for row in rows]
        assert sum(row[1].endswith("(you)") for row in seen) == 1
        first.screenshot(path=str(artifacts / "class-student-board.png"), full_page=True)
        for tab in (teacher, *students):
            no_exceptions(tab)
    finally:
        for context in contexts:
            context.close()
