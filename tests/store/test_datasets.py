"""Datasets of own images in the store (SQLite and PostgreSQL): stored and read back exactly,
listed per owner, renamed and deleted only by their owner, limited per owner and in bytes, and
a table that allows no dataset without exactly one owner."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from core.store import Owner, Refused, StoreError
from core.store.schema import datasets
from tests.support.images import prepared_upload as prepared


def test_a_dataset_is_stored_and_read_back_exactly(store):
    student, _token = store.new_student()
    mine = Owner(student_id=student)
    found = prepared()
    dataset_id = store.add_dataset(mine, "  my   blobs ", found)
    [row] = store.datasets(mine)
    assert (row.id, row.name, row.recipe, row.images) == (dataset_id, "my blobs", "resize", 120)
    assert row.classes == () and row.size > 0
    arrays = store.dataset_arrays(dataset_id)
    assert np.array_equal(arrays["x_train"], found.x_train)
    assert np.array_equal(arrays["y_test"], found.y_test)
    assert arrays["x_val"].dtype == np.uint8


def test_only_its_owner_sees_renames_or_deletes_a_dataset(store):
    first, _ = store.new_student()
    second, _ = store.new_student()
    dataset_id = store.add_dataset(Owner(student_id=first), "mine", prepared())
    other = Owner(student_id=second)
    assert store.datasets(other) == []
    assert store.dataset(dataset_id, [other]) is None
    assert store.rename_dataset(dataset_id, other, "taken") is False
    assert store.delete_dataset(dataset_id, other) is False
    owner = Owner(student_id=first)
    assert store.rename_dataset(dataset_id, owner, "renamed") is True
    assert store.dataset(dataset_id, [other, owner]).name == "renamed"
    with pytest.raises(Refused):
        store.rename_dataset(dataset_id, owner, "   ")
    assert store.delete_dataset(dataset_id, owner) is True
    assert store.datasets(owner) == []


def test_a_class_owns_its_teachers_datasets(store):
    class_id = store.create_class("Lesson", "t" * 64, "c" * 64, {})
    student, _ = store.new_student(class_id=class_id)
    dataset_id = store.add_dataset(Owner(class_id=class_id), "class set", prepared())
    mine = Owner(student_id=student)
    assert store.datasets(mine) == []
    assert store.dataset(dataset_id, [mine, Owner(class_id=class_id)]).name == "class set"


def test_the_limits_per_owner_and_in_bytes_refuse_and_store_nothing(store):
    student, _ = store.new_student()
    mine = Owner(student_id=student)
    found = prepared()
    store.add_dataset(mine, "one", found, most_per_owner=2)
    store.add_dataset(mine, "two", found, most_per_owner=2)
    with pytest.raises(Refused, match="2 datasets already"):
        store.add_dataset(mine, "three", found, most_per_owner=2)
    other, _ = store.new_student()
    with pytest.raises(Refused, match="full"):
        store.add_dataset(Owner(student_id=other), "big", found, most_bytes=len(found.npz()) * 2)
    assert [row.name for row in store.datasets(mine)] == ["two", "one"]
    assert store.datasets(Owner(student_id=other)) == []


def test_an_unknown_owner_is_refused(store):
    with pytest.raises(Refused):
        store.add_dataset(Owner(student_id=987654), "ghost", prepared())


def test_the_table_refuses_a_dataset_with_no_owner_or_two(store):
    student, _ = store.new_student()
    class_id = store.create_class("Lesson", "u" * 64, "d" * 64, {})
    values = dict(name="x", recipe="mnist", seed=0, classes=[], images=0, size=0, created_at=0.0)
    for owners in ({}, {"student_id": student, "class_id": class_id}):
        with pytest.raises(StoreError):
            store.write(datasets.insert().values(data=b"", **values, **owners))
    assert store.scalar(sa.select(sa.func.count()).select_from(datasets)) == 0
    with pytest.raises(ValueError):
        Owner()


def test_pruning_deletes_the_datasets_older_than_the_retention(store):
    import time

    student, _ = store.new_student()
    mine = Owner(student_id=student)
    store.add_dataset(mine, "old", prepared())
    assert store.prune_datasets(days=30) == 0
    assert store.prune_datasets(days=30, now=time.time() + 31 * 86400) == 1
    assert store.datasets(mine) == [] and store.dataset_totals() == (0, 0)


def test_the_store_command_lists_and_prunes_datasets(tmp_path, monkeypatch, capsys):
    from core.store import Store
    from core.store.__main__ import main

    monkeypatch.setenv("AE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    opened = Store()
    student, _ = opened.new_student()
    opened.add_dataset(Owner(student_id=student), "mine", prepared())
    opened.close()
    assert main([]) == 0
    assert "datasets of own images: 1 (" in capsys.readouterr().out
    assert main(["prune", "--days", "0"]) == 0
    out = capsys.readouterr().out
    assert "pruned 1 dataset(s)" in out and "datasets of own images: 0 (0.00 MB)" in out


def test_pruning_students_keeps_one_who_owns_a_recent_dataset(store):
    import time

    student, _ = store.new_student()
    store.add_dataset(Owner(student_id=student), "kept", prepared())
    later = time.time() + 10 * 86400  # The student unseen for 10 days, the dataset 10 days old.
    store.prune(max_runs=5, retention_days=30, now=later)
    assert [row.name for row in store.datasets(Owner(student_id=student))] == ["kept"]
    store.prune(max_runs=5, retention_days=5, now=later)  # Both past a 5-day retention.
    assert store.dataset_totals() == (0, 0)


def test_an_upload_is_named_loaded_and_split_as_it_was_kept(store):
    """core.ml.data reaches an upload through the store the process opened: its name, its
    test images, and training splits that are its own (not MNIST's last-5,000 hold-out)."""
    from core.ml import data
    from core.ml.training import load_splits

    student, _token = store.new_student()
    found = prepared(seed=3)
    dataset_id = store.add_dataset(Owner(student_id=student), "blobs", found)
    name = data.own_name(dataset_id)
    data.use_store(store)
    try:
        assert data.own_id(name) == dataset_id and data.own_id("mnist") is None
        assert data.own_id(None) is None  # A session whose dataset is not chosen yet.
        assert data.get(name).title == "blobs" and data.get(name).labels == ()
        assert data.available(name) is None
        x_test, y_test = data.load_test(name)
        assert np.array_equal(x_test, found.x_test) and (y_test == -1).all()
        splits = load_splits(name)
        assert np.array_equal(splits.pixels_train, found.x_train)
        assert np.array_equal(splits.pixels_val, found.x_val)
        assert len(splits.pixels_train) + len(splits.pixels_val) + len(x_test) == 120
        # Eight fixed samples though it has no labels: eight different images.
        assert len(set(data.sample_indices(y_test))) == min(8, len(y_test))
        # A deleted (or never made) upload: its runs still name it, as gone.
        gone = data.own_name(dataset_id + 1000)
        assert data.get(gone).title == "a deleted upload" and data.available(gone)
        with pytest.raises(data.DatasetUnavailable, match="no such upload"):
            data.load_own(gone)
    finally:
        data.use_store(None)


def test_a_run_on_another_students_upload_is_refused(store):
    from core.lab import runs
    from core.lab.classroom import ClassError
    from core.ml import data

    owner, _ = store.new_student()
    other, _ = store.new_student()
    name = data.own_name(store.add_dataset(Owner(student_id=owner), "mine", prepared()))
    data.use_store(store)
    try:
        with pytest.raises(ClassError, match="not yours"):
            runs.start_run(store, other, "vanilla", {}, dataset=name)
        run_id = runs.start_run(store, owner, "vanilla", {}, dataset=name)
        assert store.run(run_id).dataset == name
    finally:
        data.use_store(None)


def test_a_teachers_upload_is_the_classs_and_only_its_teacher_changes_it(store):
    """The teacher key keeps, renames and deletes the class's datasets; its students train on
    them, a student of another class cannot; deleting the lesson's dataset unsets it."""
    from core.lab import classroom, runs
    from core.lab.classroom import ClassError, Setup
    from core.ml import data

    class_id, key = classroom.create_class(store, "Lesson 4")
    _, other_key = classroom.create_class(store, "Lesson 5")
    with pytest.raises(ClassError, match="teacher link is not valid"):
        classroom.add_class_dataset(store, "forged", "bars", prepared())
    dataset_id = classroom.add_class_dataset(store, key, "bars", prepared())
    assert [row.id for row in classroom.class_datasets(store, key)] == [dataset_id]
    assert classroom.class_datasets(store, other_key) == []
    with pytest.raises(ClassError):  # Another class's teacher.
        classroom.rename_class_dataset(store, other_key, dataset_id, "mine now")
    classroom.rename_class_dataset(store, key, dataset_id, "our bars")
    assert store.dataset_row(dataset_id).name == "our bars"

    name = data.own_name(dataset_id)
    pupil, _ = store.new_student(class_id)
    outsider, _ = store.new_student(classroom.teacher_class(store, other_key).id)
    data.use_store(store)
    try:
        assert store.run(runs.start_run(store, pupil, "vanilla", {}, dataset=name)).dataset == name
        with pytest.raises(ClassError, match="not yours"):
            runs.start_run(store, outsider, "vanilla", {}, dataset=name)
        # The lesson's dataset: the class's own upload, never another owner's.
        classroom.save_setup(store, key, Setup(dataset=name))
        assert classroom.teacher_class(store, key).setup["dataset"] == name
        with pytest.raises(ClassError, match="not one of the class's"):
            classroom.save_setup(store, other_key, Setup(dataset=name))
        with pytest.raises(ClassError, match="not one of the class's"):
            classroom.add_challenge(
                store, other_key, classroom.Challenge("Best", "mse", dataset=name)
            )
        classroom.add_challenge(store, key, classroom.Challenge("Best", "mse", dataset=name))
        with pytest.raises(ClassError, match="unknown dataset"):
            Setup.from_json({"dataset": "../etc/passwd"})
        # Pruned (not deleted by the teacher): the stale lesson dataset blocks no other save.
        store.delete_dataset(dataset_id, Owner(class_id=class_id))
        classroom.save_setup(store, key, Setup(dataset=name, max_epochs=5))
        assert classroom.teacher_class(store, key).setup["max_epochs"] == 5
        with pytest.raises(ClassError, match="not one of the class's"):  # But a new one is.
            classroom.save_setup(store, key, Setup(dataset=data.own_name(dataset_id + 1)))
        again = classroom.add_class_dataset(store, key, "bars again", prepared(1))
        classroom.delete_class_dataset(store, key, again)
        assert store.dataset_row(again) is None
    finally:
        data.use_store(None)


def test_a_conditional_vae_is_refused_on_an_upload_without_classes(store):
    """The conditional VAE learns from labels: on an upload without folders the Train and Race
    pages refuse it with a reason, before anything is queued; on labelled data it queues."""
    from core.lab.classroom import ClassError
    from core.lab.runs import start_run
    from core.ml import data

    student, _ = store.new_student()
    upload = data.own_name(store.add_dataset(Owner(student_id=student), "blobs", prepared()))
    data.use_store(store)
    try:
        with pytest.raises(ClassError, match="learns from labelled images"):
            start_run(store, student, "cvae", {"epochs": 1}, dataset=upload)
        assert store.runs(student) == []
        assert start_run(store, student, "cvae", {"epochs": 1}) > 0  # MNIST has its labels.
    finally:
        data.use_store(None)
