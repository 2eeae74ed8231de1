"""The one training function: progress reports, stop requests, divergence, bad settings, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.ml import cards, metrics, training
from core.ml.callbacks import (
    KeepBest,
    LastCompletedEpoch,
    Progress,
    ProgressCallback,
    StopOnDivergence,
)
from core.ml.training import TrainConfig, train
from core.ml.variants.tied_model import train_greedy


def small(**overrides) -> TrainConfig:
    return TrainConfig(**{"epochs": 2, "subset": 512, "batch_size": 64, **overrides})


@pytest.mark.slow  # Trains.
def test_progress_reports_every_epoch_and_finishes(splits):
    reports: list[Progress] = []
    result = train(
        "vanilla", small(), splits=splits, on_progress=reports.append, progress_interval=0.0
    )
    assert result.epochs_completed == 2 and not result.stopped and not result.diverged
    assert reports[-1].done and reports[-1].fraction == 1.0
    assert [len(r.history.get("loss", [])) for r in reports][-1] == 2
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions)
    assert set(result.history) == {"loss", "val_loss"}
    assert result.history["loss"][1] < result.history["loss"][0]
    assert result.samples_per_second > 0


def stop_after(batches: int):
    """A `should_stop` that asks to stop once `batches` batches have ended (it is asked after
    every batch)."""
    asked = iter(range(1, 10**9))
    return lambda: next(asked) >= batches


@pytest.mark.slow  # Trains.
def test_a_stop_mid_epoch_keeps_only_the_completed_epochs(splits):
    """Stopped 3 batches into epoch 2, a run is exactly the run stopped at epoch 1's end: its
    weights, its optimizer state, its count and its progress; the cut epoch is discarded."""
    steps = 512 // 64
    at_the_end = train("vanilla", small(epochs=3), splits=splits, should_stop=stop_after(steps))
    reports: list[Progress] = []
    cut = train(
        "vanilla",
        small(epochs=3),
        splits=splits,
        on_progress=reports.append,
        progress_interval=0.0,
        should_stop=stop_after(steps + 3),
    )
    for result in (at_the_end, cut):
        assert result.stopped and result.epochs_completed == 1 and len(result.history["loss"]) == 1
    for now, expected in zip(cut.model.get_weights(), at_the_end.model.get_weights(), strict=True):
        np.testing.assert_array_equal(now, expected)
    for now, expected in zip(cut.optimizer_state, at_the_end.optimizer_state, strict=True):
        np.testing.assert_array_equal(now, expected)
    assert int(cut.optimizer_state[0]) == steps  # Adam's iteration count: one epoch's steps.
    # Only the completed epoch's report carries the optimizer state (for its checkpoint), and
    # the last report is back at the start of the cut epoch: one epoch of three done.
    assert [r.epoch for r in reports if r.optimizer_state is not None] == [0]
    assert reports[-1].done and reports[-1].fraction == pytest.approx(1 / 3)
    # The cut epoch's batches were still reported as they trained (the live chart shows them).
    assert sum(len(r.batch_losses.get("loss", [])) for r in reports) == steps + 3


@pytest.mark.slow  # Trains.
def test_a_stop_in_the_first_epoch_leaves_the_untrained_model(splits):
    from core.ml import variants

    model = variants.build("vanilla")
    start = model.get_weights()
    result = train("vanilla", small(epochs=5), model=model, splits=splits, should_stop=lambda: True)
    assert result.stopped and result.epochs_completed == 0 and result.optimizer_state is None
    for now, before in zip(result.model.get_weights(), start, strict=True):
        np.testing.assert_array_equal(now, before)


@pytest.mark.slow  # Trains.
def test_exploding_learning_rate_stops_with_last_good_weights(splits):
    # A linear model with squared error has nothing to saturate: the loss overflows to inf/NaN.
    result = train("linear", small(learning_rate=1e9, epochs=3), splits=splits)
    assert result.diverged
    for weight in result.model.get_weights():
        assert np.isfinite(weight).all()


@pytest.mark.slow  # Trains.
def test_a_loss_far_above_its_start_counts_as_exploded(splits):
    # Cross-entropy is clipped, so vanilla at rate 10 never reaches NaN: its loss jumps from
    # 0.69 to about 2 and stays there. That must stop too, with the starting weights back.
    from core.ml import variants

    model = variants.build("vanilla")
    start = model.get_weights()
    result = train("vanilla", small(learning_rate=10.0, epochs=3), model=model, splits=splits)
    assert result.diverged and result.epochs_completed == 0
    for now, before in zip(result.model.get_weights(), start, strict=True):
        np.testing.assert_array_equal(now, before)
    calm = train("vanilla", small(learning_rate=1e-2), splits=splits)  # A sane rate is not.
    assert not calm.diverged and calm.history["loss"][-1] < calm.history["loss"][0]


def test_bad_settings_raise_clear_errors(splits):
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        train("vanilla", small(epochs=0), splits=splits)
    with pytest.raises(ValueError, match="at least 1 image"):
        train("vanilla", small(subset=0), splits=splits)


@pytest.mark.slow  # Trains.
def test_batch_larger_than_subset_and_single_image(splits):
    result = train("vanilla", small(subset=1, batch_size=512, epochs=1), splits=splits)
    assert result.epochs_completed == 1 and math.isfinite(result.history["loss"][0])


@pytest.mark.slow  # Trains.
def test_denoising_trains_on_noisy_inputs_with_clean_targets(splits):
    result = train("denoising", small(epochs=1, subset=256), splits=splits)
    assert result.epochs_completed == 1 and math.isfinite(result.history["val_loss"][0])
    batches = training.NoisyBatches(splits.x_train[:64], 32, ["masking"], 0.5, 0.5, seed=0)
    noisy, clean = batches[0]
    assert noisy.shape == clean.shape == (32, 28, 28, 1)
    assert (noisy == 0).mean() > (clean == 0).mean() + 0.05  # Masked pixels added.


@pytest.mark.slow  # Trains.
def test_vae_history_has_reconstruction_and_kl(splits):
    result = train("vae", small(epochs=1), splits=splits)
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss"} <= set(result.history)
    loss = result.history["loss"][0]
    parts = result.history["reconstruction_loss"][0] + result.history["kl_loss"][0]
    assert loss == pytest.approx(parts, rel=1e-4)


class FakeModel:
    """Just enough of a Keras model to drive the callback's hooks by hand."""

    def __init__(self, weights):
        self.weights = weights
        self.stop_training = False

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = weights


def driven(model, *callbacks, epochs: int = 1, steps: int = 1):
    """`callbacks` set up on `model` and begun, as `fit` would."""
    for callback in callbacks:
        callback.set_model(model)
        callback.params = {"epochs": epochs, "steps": steps}
        callback.on_train_begin()
    return callbacks


def test_keep_best_restores_the_best_validation_weights():
    model = FakeModel([np.zeros(1)])
    last = LastCompletedEpoch()
    last, best = driven(model, last, KeepBest(last), epochs=3)
    for epoch, (value, val_loss) in enumerate([(1.0, 0.5), (2.0, 0.3), (3.0, 0.4)]):
        model.weights = [np.array([value])]
        for callback in (last, best):
            callback.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val_loss})
    best.on_train_end()
    assert model.weights[0][0] == 2.0  # Epoch 2 had the lowest val_loss.


def test_callback_restores_on_nan_batch():
    model = FakeModel([np.ones(2)])
    last = LastCompletedEpoch()
    last, callback = driven(model, last, StopOnDivergence(last), steps=4)
    model.weights = [np.array([np.nan, np.nan])]
    callback.on_train_batch_end(0, {"loss": float("nan")})
    assert callback.diverged and model.stop_training and last.cut
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])


@pytest.mark.slow  # Trains.
def test_greedy_layer_wise_training_trains_every_pair(splits):
    model = training.variants.build("tied")
    before = [
        layer.kernel.numpy().copy() for layer in model.encoder.layers if hasattr(layer, "kernel")
    ]
    reported = []
    losses = train_greedy(
        model,
        splits.x_train[:512],
        epochs=1,
        batch_size=128,
        on_pair=lambda depth, loss: reported.append(depth),
    )
    after = [layer.kernel.numpy() for layer in model.encoder.layers if hasattr(layer, "kernel")]
    assert reported == [0, 1, 2] and all(math.isfinite(loss) for loss in losses)
    assert all(not np.allclose(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.slow  # Trains.
def test_cli_trains_saves_and_writes_card(tmp_path):
    from core.ml.retrain import main

    assert main(["linear", "--epochs", "1", "--subset", "256", "--out", str(tmp_path)]) == 0
    card = json.loads((tmp_path / "linear.json").read_text())
    assert card["variant"] == "linear" and card["training"]["epochs_completed"] == 1
    assert card["training"]["machine"]["cpu_count"] >= 1
    assert card["metrics"]["pca_mse"] == pytest.approx(0.0168, abs=0.0005)
    model = cards.load_model("linear", tmp_path)
    assert model(np.zeros((1, 28, 28, 1), np.float32)).shape == (1, 28, 28, 1)


def bce(x, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).mean())


@pytest.mark.slow  # Trains.
@pytest.mark.parametrize("name", ["vanilla", "vae"])
def test_reported_batch_losses_are_each_batchs_own_loss(splits, name):
    # Keras logs the running mean of the epoch; the callback must report each batch's loss.
    # 300 images in batches of 64: the last batch has 44, so a weighting mistake shows.
    import keras

    from core.ml import variants

    images = splits.x_train[:300]
    model = variants.build(name)
    training.compile_model(model, variants.get(name).loss, small(), 5)
    expected, running_means, reports = [], [], []

    class Independent(keras.callbacks.Callback):
        """Each batch's BCE computed in float64 from the weights its step starts with."""

        def on_train_batch_begin(self, batch, logs=None):
            chunk = images[batch * 64 : (batch + 1) * 64]
            expected.append(bce(chunk, np.asarray(model(chunk, training=False), np.float64)))

        def on_train_batch_end(self, batch, logs=None):
            running_means.append(float(logs["loss"]))

    callback = ProgressCallback(reports.append, interval=0.0)
    model.fit(
        images,
        images,
        batch_size=64,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[callback, Independent()],
    )
    reported = [v for r in reports for v in r.batch_losses.get("loss", [])]
    assert len(reported) == 5
    # Every batch's values, across reports, and the first index of each report's values.
    assert [r.first_batch for r in reports if r.batch_losses][:2] == [0, 1]
    # Whatever the model's weighting, the batch losses average back to Keras's running means
    # (compiled losses weigh batches by their size; the VAE's trackers count each batch once).
    sizes = np.array([64, 64, 64, 64, 44]) if name == "vanilla" else np.ones(5)
    np.testing.assert_allclose(
        np.cumsum(np.array(reported) * sizes) / np.cumsum(sizes), running_means, rtol=1e-5
    )
    if name == "vanilla":  # A deterministic loss: equal to the independent computation.
        np.testing.assert_allclose(reported, expected, rtol=2e-4)
    else:  # The VAE's two parts are reported per batch too.
        keys = {key for r in reports for key in r.batch_losses}
        assert keys == {"loss", "reconstruction_loss", "kl_loss"}


@pytest.mark.slow  # Trains.
def test_training_resumes_at_an_epoch_with_the_schedule_where_it_was(splits):
    first = train("vanilla", small(epochs=4), splits=splits)
    resumed_model = training.variants.build("vanilla")
    resumed_model.set_weights(first.model.get_weights())
    reports: list[Progress] = []
    result = train(
        "vanilla",
        small(epochs=6),
        model=resumed_model,
        splits=splits,
        on_progress=reports.append,
        initial_epoch=4,
    )
    assert result.epochs_completed == 2  # Epochs 5 and 6 only.
    assert {r.epoch for r in reports} == {4, 5}
    steps = math.ceil(512 / 64)
    assert int(resumed_model.optimizer.iterations.numpy()) == 6 * steps


def batch_losses(reports: list[Progress]) -> np.ndarray:
    return np.array([value for r in reports for value in r.batch_losses.get("loss", [])])


def seam_jump(losses: np.ndarray, seam: int, width: int = 20) -> float:
    """The highest of the `width` batch losses after batch `seam` over the mean of the
    `width` before it: how far the curve jumps where a run was continued."""
    return float(losses[seam : seam + width].max() / losses[seam - width : seam].mean())


@pytest.mark.slow  # About 10 epochs of 128 steps: 10-20 s here.
def test_a_stopped_and_continued_run_ends_where_the_unstopped_run_ends(splits):
    """Issue 25: Continue restarted Adam's moments, and the loss jumped at the seam. Stopped
    in epoch 3 and continued from its checkpoint (the end of epoch 2: weights and optimizer
    state), a run takes the same steps as the same run never stopped.

    The setting is one where the optimizer state matters (measured): a linear autoencoder at
    learning rate 0.01, 128 steps an epoch. Continued without the state, Adam's first steps
    move every weight by the full learning rate: the second batch's loss after the seam was
    4x the one before (0.016 -> 0.067), and the old divergence check (1.5x this session's
    first batch) ended the run as "diverged", as a student saw."""
    from core.ml import variants

    config = small(epochs=4, subset=2048, batch_size=16, learning_rate=0.01, validation=False)
    steps, seam = 2048 // 16, 2 * (2048 // 16)
    whole, first, continued = [], [], []
    unstopped = train(
        "linear", config, splits=splits, on_progress=whole.append, progress_interval=0.0
    )
    stopped = train(
        "linear",
        config,
        splits=splits,
        on_progress=first.append,
        progress_interval=0.0,
        should_stop=stop_after(seam + steps // 2),
    )
    assert stopped.epochs_completed == 2 and int(stopped.optimizer_state[0]) == seam

    def resume(optimizer_state, on_progress=None):
        model = variants.build("linear")
        model.set_weights(stopped.model.get_weights())
        return train(
            "linear",
            config,
            model=model,
            splits=splits,
            on_progress=on_progress,
            progress_interval=0.0,
            initial_epoch=2,
            optimizer_state=optimizer_state,
            reference_loss=stopped.reference_loss,
        )

    result = resume(stopped.optimizer_state, continued.append)
    assert not result.diverged and result.epochs_completed == 2
    whole_losses = batch_losses(whole)
    # The first session trained on the same batches as the unstopped run, and the
    # continuation on the same batches as its last two epochs, with the same losses.
    np.testing.assert_allclose(batch_losses(first)[:seam], whole_losses[:seam], rtol=1e-6)
    joined = np.concatenate([batch_losses(first)[:seam], batch_losses(continued)])
    np.testing.assert_allclose(joined, whole_losses, rtol=1e-5)
    np.testing.assert_allclose(result.history["loss"], unstopped.history["loss"][2:], rtol=1e-5)
    for now, expected in zip(
        result.model.get_weights(), unstopped.model.get_weights(), strict=True
    ):
        np.testing.assert_allclose(now, expected, rtol=1e-5, atol=1e-6)
    # No jump at the seam beyond the one the unstopped curve has at that place (batch noise).
    assert seam_jump(joined, seam) <= 1.01 * seam_jump(whole_losses, seam)

    # A checkpoint from before the optimizer state was kept still continues, and the
    # divergence check, measured against the loss the run started from, lets it: the jump is
    # real (which is what the state above prevents) but no explosion.
    old_style = []
    result = resume(None, old_style.append)
    assert not result.diverged and result.epochs_completed == 2
    old_joined = np.concatenate([batch_losses(first)[:seam], batch_losses(old_style)])
    assert seam_jump(old_joined, seam) > 2 * seam_jump(whole_losses, seam)


def test_divergence_is_measured_from_the_runs_start_across_a_restart():
    """A continued run's first batches are a trained model's losses: 1.5x the first of them
    is not an explosion. The reference handed over (the run's first loss) decides instead."""

    def diverged(reference: float | None, losses: list[float]) -> bool:
        last = LastCompletedEpoch()
        _, callback = driven(
            FakeModel([np.ones(2)]), last, StopOnDivergence(last, reference), epochs=4, steps=10
        )
        callback.on_epoch_begin(2)
        for batch, loss in enumerate(losses):
            callback.on_train_batch_end(batch, {"loss": loss})
        return callback.diverged

    calm = [0.10, 0.16]  # Running means of a trained model after one hard batch.
    assert diverged(None, calm)  # Measured from this session's first batch: a false alarm.
    assert not diverged(0.69, calm)
    assert diverged(0.69, [0.10, 1.2])  # A real explosion still ends the run.


@pytest.mark.slow  # Trains.
def test_a_validation_subset_is_the_first_held_out_images(splits):
    """`validation_images`: the logged validation loss is the mean BCE of exactly the first N
    held-out images under the final weights (checked with Keras's own loss, in one batch)."""
    import keras

    # Trained enough that images' losses differ (an untrained model gives ~0.69 everywhere).
    config = TrainConfig(
        epochs=2, subset=2000, batch_size=50, learning_rate=1e-2, validation_images=250
    )
    result = train("vanilla", config, splits=splits)
    first = splits.x_val[:250]
    expected = float(keras.losses.BinaryCrossentropy()(first, result.model(first, training=False)))
    assert result.history["val_loss"][-1] == pytest.approx(expected, rel=1e-4)
    # And not the mean over all 5,000 (which differs): the subset is what was measured.
    every = float(
        keras.losses.BinaryCrossentropy()(splits.x_val, result.model(splits.x_val, training=False))
    )
    assert abs(every - expected) > 1e-3 * expected


def test_splits_keep_uint8_pixels_and_convert_only_what_a_run_uses(splits):
    """A worker keeps every dataset it trains on as uint8 (a quarter of float32's memory);
    a run's subset is chosen on the pixels and converted alone, the same images as before."""
    assert splits.pixels_train.dtype == np.uint8 and splits.pixels_train.shape == (55000, 28, 28)
    assert len(splits.pixels_val) == 5000 and len(splits.pixels_test) == 10000
    chosen = splits.train_images(100, 3)
    assert chosen.dtype == np.float32 and chosen.shape == (100, 28, 28, 1)
    np.testing.assert_array_equal(chosen, training.choose_subset(splits.x_train, 100, 3))
    test = splits.x_test
    assert test.min() == 0.0 and test.max() == 1.0
    np.testing.assert_allclose(test[0, :, :, 0] * 255, splits.pixels_test[0], atol=1e-4)


def test_per_image_metrics_in_chunks_are_the_whole_arrays_formulas():
    """bce, mse and psnr run CHUNK images at a time (their float64 temporaries on the test set
    were the worker's peak): on more images than a chunk, with an uneven last chunk, each
    image's value is the float64 formula's on the whole arrays."""
    rng = np.random.default_rng(0)
    count = 2 * metrics.CHUNK + 37
    images = rng.random((count, 28, 28, 1)).astype(np.float32)
    outputs = rng.random((count, 28, 28, 1)).astype(np.float32)
    x, p = images.reshape(count, -1).astype(np.float64), outputs.reshape(count, -1)
    squared = ((x - p) ** 2).mean(axis=1)
    np.testing.assert_allclose(metrics.mse(images, outputs), squared, rtol=1e-6)
    np.testing.assert_allclose(metrics.psnr(images, outputs), 10 * np.log10(1 / squared), rtol=1e-6)
    q = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    expected = -(x * np.log(q) + (1 - x) * np.log(1 - q)).mean(axis=1)
    np.testing.assert_allclose(metrics.bce(images, outputs), expected, rtol=1e-5)
