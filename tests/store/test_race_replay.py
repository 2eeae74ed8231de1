"""Races and replays in the store: racers queued together on the same images and seed, the
2-D codes of every epoch stored for a replay, and the shared held-out MSE logged per epoch.
Store tests run on SQLite and the real PostgreSQL server; training runs the real task body."""

from __future__ import annotations

import numpy as np
import pytest

from core.cluster.job import train_run
from core.lab import classroom
from core.lab.runs import start_race, start_run
from core.ml import choices, replay, variants
from core.ml.choices import settings_for
from core.ml.training import TrainConfig
from core.store import Busy, Store


def test_a_race_queues_its_racers_together_with_the_same_images_and_seed(store):
    student, _ = store.new_student()
    racers = [("vanilla", {"code_size": size, "epochs": 2, "subset": 1000}) for size in (2, 8, 32)]
    ids = start_race(store, student, racers)
    runs = [store.run(run_id) for run_id in ids]
    assert [run.status for run in runs] == ["queued"] * 3
    assert [run.settings["model"]["code_size"] for run in runs] == [2, 8, 32]
    trains = [run.settings["train"] for run in runs]
    assert {(t["seed"], t["subset"], t["epochs"], t["dataset"]) for t in trains} == {
        (0, 1000, 2, "mnist")
    }
    assert all(run.settings["race"] == ids[0] for run in runs)
    assert list(store.races(student)) == [ids[0]]
    assert [run.id for run in store.races(student)[ids[0]]] == ids
    # One run at a time still holds: a second race, or a run, waits for this one.
    with pytest.raises(Busy):
        start_race(store, student, racers[:2])
    with pytest.raises(Busy):
        start_run(store, student, "vanilla", {})


def test_a_race_needs_two_to_four_racers_and_obeys_the_lesson(store):
    student, _ = store.new_student()
    with pytest.raises(classroom.ClassError, match="2 to 4"):
        start_race(store, student, [("vanilla", {})])
    with pytest.raises(classroom.ClassError, match="2 to 4"):
        start_race(store, student, [("vanilla", {})] * 5)
    # Server limits clamp every racer as they clamp a single run.
    ids = start_race(
        store,
        student,
        [("vanilla", {"epochs": 50}), ("deep", {"epochs": 50})],
        max_epochs=3,
        dataset="fashion",
    )
    assert [store.run(run_id).epochs_total for run_id in ids] == [3, 3]
    assert {store.run(run_id).settings["train"]["dataset"] for run_id in ids} == {"fashion"}


@pytest.mark.slow  # Trains.
def test_runs_of_a_2d_code_store_every_epochs_codes_and_others_do_not(tmp_path, splits):
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    student, _ = store.new_student()
    config = TrainConfig(epochs=2, subset=500, batch_size=100, validation_images=300)
    ids = {}
    for size in (2, 32):
        model = variants.make_config("vanilla", code_size=size)
        ids[size] = store.create_run(student, "vanilla", settings_for(config, model), 2)
        assert store.claim(ids[size], "test:0")
        assert train_run(store, ids[size], splits) == "finished"
    frames = store.replay(ids[2])
    assert [epoch for epoch, _ in frames] == [0, 1, 2]
    assert all(codes.shape == (replay.IMAGES, 2) for _, codes in frames)
    assert not np.allclose(frames[0][1], frames[2][1])  # The code moved while it trained.
    assert store.replay(ids[32]) == []
    # The last frame is the trained model's code of the first test images (float16-rounded).
    from core.ml.choices import build_model

    run = store.run(ids[2])
    model = build_model("vanilla", run.settings)
    model.set_weights(store.checkpoint(ids[2])[1])
    expected = replay.codes(model, splits.x_test)
    assert np.allclose(frames[-1][1], expected, rtol=2e-3, atol=2e-3)
    # The held-out MSE every run logs per epoch, checked against numpy on the same images.
    logs = store.epochs(ids[2], with_samples=False)[-1].logs
    held_out = splits.x_val[:300]
    reconstructed = np.asarray(model(held_out, training=False))
    assert logs["val_mse"] == pytest.approx(float(((reconstructed - held_out) ** 2).mean()), 1e-4)
    assert store.epochs(ids[2], with_samples=False)[0].logs["val_mse"] > logs["val_mse"]


def test_the_shipped_vaes_replay_file_holds_each_epochs_codes():
    from core.ml import cards

    frames = replay.load(replay.path_of(cards.model_path("vae")))
    card = cards.load_card("vae")
    assert [epoch for epoch, _ in frames] == list(range(card["training"]["epochs_completed"] + 1))
    assert all(codes.shape == (replay.IMAGES, 2) for _, codes in frames)
    assert replay.load(replay.path_of(cards.model_path("deep"))) == []  # A 32-D code: none.


def test_racer_settings_round_trip_through_a_stored_run():
    """Every variant's declared settings go into its config and read back unchanged, so a
    race's (or a lock's) values are what the run trains with."""
    for name in variants.names():
        values = choices.defaults(name)
        for item in choices.model_settings(name):
            values[item.name] = item.choices[1] if len(item.choices) > 1 else item.choices[0]
        train, model = choices.configs(name, values)
        from dataclasses import asdict

        stored = {"train": asdict(train), "model": asdict(model)}
        assert choices.values_of(stored, name) == values, name
