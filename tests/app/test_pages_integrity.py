"""The pages keep each student's work theirs and one user's refusal theirs alone (issue 25):
a deleted run's cache is never served to the next run, a teacher's stale click or a missing
run is a message (never the server-wide "store unavailable" latch), nothing passes a missing
store on, and a page view writes no student row."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from core.lab import classroom
from core.ml import metrics
from core.store import schema
from tests.support.pages import page_alone, run_page
from ui import resources, services


@pytest.fixture(autouse=True)
def store_latch_clear():
    """Every test starts and ends with the store on (the latch is process-wide)."""
    services._store_failure = None
    yield
    services._store_failure = None


def vanilla(bias: float):
    """A vanilla model whose every output pixel is sigmoid(bias): two such models give
    reconstructions far apart, so a page shows which one it used."""
    from core.ml import variants

    model = variants.build("vanilla")
    weights = model.get_weights()
    weights[-2] = np.zeros_like(weights[-2])
    weights[-1] = np.full_like(weights[-1], bias)
    model.set_weights(weights)
    return model


def shown_mse(app) -> float:
    return float(next(m for m in app.metric if m.label == "MSE per pixel").value)


def draw_test_digit(token: str, run_id: int):
    return run_page(
        "pages/draw.py",
        token=token,
        draw_source="Test digit",
        random_index=0,
        model_choice=run_id,
    )


def test_a_deleted_runs_model_is_never_shown_for_the_next_run(lab_store, stored_run):
    # On SQLite, A's deleted run 1 gave its id to B's next run, and the server-wide model cache
    # (keyed "run-<id>@<epoch>") served B the deleted weights on B's own Draw page.
    from core.ml import variants

    config = variants.make_config("vanilla")
    token_a, run_a = stored_run("vanilla", vanilla(4.0), config)
    app = draw_test_digit(token_a, run_a.id)
    digit = resources.test_set("mnist").x_test[0:1]
    assert shown_mse(app) == pytest.approx(
        float(metrics.mse(digit, np.asarray(vanilla(4.0)(digit)))[0]), abs=1e-4
    )
    assert lab_store.delete_run(run_a.id, run_a.student_id)
    token_b, run_b = stored_run("vanilla", vanilla(-6.0), config)
    assert run_b.id != run_a.id
    expected = float(metrics.mse(digit, np.asarray(vanilla(-6.0)(digit)))[0])
    assert shown_mse(draw_test_digit(token_b, run_b.id)) == pytest.approx(expected, abs=1e-4)


def students(lab_store) -> int:
    with lab_store.engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(schema.students)
        ).scalar_one()


def test_page_views_write_no_student_and_a_link_is_made_on_demand(lab_store):
    # Every visitor minted a student row, link or not: 8 browsers opening / and /draw added
    # 16 rows, and a crawler grew the table without bound.
    before = students(lab_store)
    for path in ("pages/home.py", "pages/draw.py", "pages/train.py", "pages/race.py"):
        app = run_page(path)
        assert "me" not in app.query_params
    run_page("pages/home.py", token="not-a-known-link")
    assert students(lab_store) == before
    train = page_alone("pages/train.py")
    assert not next(b for b in train.button if b.label == "Train").disabled  # Still offered.
    home = run_page("pages/home.py")
    # Offered in the sidebar (AppTest drops clicks in app.py's sidebar; the browser test
    # test_shared_link_on_a_freshly_started_server presses it and gets a working link).
    assert [b for b in home.sidebar.button if b.label == "Get my link now"]
    assert students(lab_store) == before


def test_a_teachers_stale_remove_is_a_message_and_the_server_keeps_training(lab_store, monkeypatch):
    # Two tabs, Remove on the same challenge: the second removal raised ClassError (a
    # StoreError), which tripped the server-wide latch: "Your runs cannot be stored right
    # now", Train disabled for every student for 30 s.
    _, key = classroom.create_class(lab_store, "Lesson 5")
    challenge = classroom.add_challenge(
        lab_store, key, classroom.Challenge(title="Best BCE", metric="bce")
    )
    app = page_alone("pages/class.py")
    app.query_params["teacher"] = key
    app.run()
    remove = classroom.remove_challenge

    def other_tab_first(store, key, challenge_id):
        # The other tab's removal lands after this tab's rerun read the challenge list and
        # before its own removal: the interleaving that two clicks at once produce.
        remove(store, key, challenge_id)
        remove(store, key, challenge_id)

    monkeypatch.setattr(classroom, "remove_challenge", other_tab_first)
    next(b for b in app.button if b.key == f"remove_{challenge}").click().run()
    assert not app.exception, [item.value for item in app.exception]
    assert any("removed already" in item.value for item in app.info)  # Told, not an error.
    assert services._store_failure is None
    _, token = lab_store.new_student()
    train = page_alone("pages/train.py", token=token)
    assert not next(b for b in train.button if b.label == "Train").disabled
    assert not [item for item in train.caption if "run store is unavailable" in item.value]


def test_a_run_without_weights_falls_back_to_the_shipped_model_without_the_latch(
    lab_store, stored_run
):
    from core.ml import variants

    token, run = stored_run("vanilla", vanilla(4.0), variants.make_config("vanilla"))
    with lab_store._transaction() as connection:  # Its weights went (another tab, a prune).
        for table in (schema.checkpoints, schema.bundles):
            connection.execute(table.delete().where(table.c.run_id == run.id))
    resources.RUN_MODELS.clear()
    app = draw_test_digit(token, run.id)
    assert not app.exception
    assert services._store_failure is None
    assert "Vanilla reconstruction" in [image.proto.imgs[0].caption for image in app.image]


@pytest.mark.parametrize("path", ["pages/race.py", "pages/class.py", "pages/train.py"])
def test_while_the_store_is_off_pages_say_so_and_never_pass_it_on(lab_store, path):
    # While the latch was set, the board snapshot and the Race page passed None on and raised.
    _, key = classroom.create_class(lab_store, "Lesson 6")
    _, token = classroom.join(lab_store, classroom.class_code(key))
    import time

    app = page_alone(path, token=token)
    services._store_failure = (time.monotonic(), "test: the database went away")
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    teacher = page_alone("pages/class.py")
    teacher.query_params["teacher"] = key
    teacher.run()
    assert not teacher.exception, [item.value for item in teacher.exception]
