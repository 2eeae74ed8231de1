"""Odd one out's scoring (core.ml.odd_one_out) against independent computations, and the run
that learns normal from some labels only (TrainConfig.odd), from the page's values to the
images it trains on."""

from __future__ import annotations

import numpy as np
import pytest

from core.lab import runs
from core.lab.classroom import ClassError
from core.lab.classroom.challenges import Challenge
from core.ml import choices, odd_one_out


def pairwise_auc(normal, odd) -> float:
    """The definition: over every (odd, normal) pair, 1 when the odd one scores higher, a half
    for a tie."""
    odd, normal = np.asarray(odd)[:, None], np.asarray(normal)[None, :]
    return float(((odd > normal) + 0.5 * (odd == normal)).mean())


@pytest.mark.parametrize("seed", range(5))
def test_auc_is_the_share_of_pairs_where_the_odd_one_scores_higher(seed):
    rng = np.random.default_rng(seed)
    # Integer scores: many ties, which the ranks must split half and half.
    normal, odd = rng.integers(0, 20, 300), rng.integers(3, 25, 41)
    assert odd_one_out.auc(normal, odd) == pytest.approx(pairwise_auc(normal, odd), abs=1e-12)
    normal, odd = rng.normal(0, 1, 500), rng.normal(0.7, 1.3, 60)
    assert odd_one_out.auc(normal, odd) == pytest.approx(pairwise_auc(normal, odd), abs=1e-12)


def test_auc_ends_and_middle():
    assert odd_one_out.auc([1, 2, 3], [4, 5]) == 1.0
    assert odd_one_out.auc([4, 5], [1, 2, 3]) == 0.0
    assert odd_one_out.auc([2, 2, 2], [2, 2]) == 0.5
    with pytest.raises(ValueError):
        odd_one_out.auc([], [1.0])


def test_roc_runs_from_nothing_flagged_to_everything_and_its_area_is_the_auc():
    rng = np.random.default_rng(3)
    normal, odd = rng.integers(0, 30, 400).astype(float), rng.integers(5, 40, 70).astype(float)
    alarms, caught, thresholds = odd_one_out.roc(normal, odd)
    assert (alarms[0], caught[0], thresholds[0]) == (0.0, 0.0, np.inf)
    assert (alarms[-1], caught[-1]) == (1.0, 1.0)
    assert (np.diff(alarms) >= 0).all() and (np.diff(caught) >= 0).all()
    # Each point counts the images at or above its threshold, as `verdict` does.
    for index in (1, 7, len(thresholds) // 2, len(thresholds) - 1):
        at = odd_one_out.verdict(normal, odd, thresholds[index])
        assert alarms[index] == pytest.approx(at.false_alarm_rate)
        assert caught[index] == pytest.approx(at.catch_rate)
    # The trapezoids under the curve: ties are diagonal steps, worth a half (Mann-Whitney).
    area = float(np.sum(np.diff(alarms) * (caught[1:] + caught[:-1]) / 2))
    assert area == pytest.approx(pairwise_auc(normal, odd), abs=1e-12)


def test_verdict_counts_each_side_of_the_threshold():
    normal, odd = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.25, 0.5, 0.05])
    at = odd_one_out.verdict(normal, odd, 0.3)
    assert (at.caught, at.missed, at.false_alarms, at.passed) == (1, 2, 2, 2)
    assert at.catch_rate == pytest.approx(1 / 3) and at.false_alarm_rate == 0.5


def test_the_starting_threshold_flags_about_one_normal_image_in_twenty():
    normal = np.random.default_rng(0).lognormal(-3, 0.5, 10_000)
    flagged = (normal >= odd_one_out.threshold_for(normal, 0.05)).mean()
    assert flagged == pytest.approx(0.05, abs=0.002)


def test_errors_are_the_mean_squared_error_of_each_image():
    images = np.zeros((2, 28, 28, 1), np.float32)
    images[1, :14] = 1.0  # Half its pixels.
    reconstructions = np.full_like(images, 0.5)
    np.testing.assert_allclose(odd_one_out.errors(images, reconstructions), [0.25, 0.25])
    np.testing.assert_allclose(odd_one_out.errors(images, images), [0.0, 0.0])
    assert odd_one_out.errors(images[1:], np.zeros_like(images[1:]))[0] == 0.5


def test_the_probes_are_images_in_no_dataset():
    probes = odd_one_out.probes()
    assert set(probes) == {"blank", "bar", "square"}
    for image in probes.values():
        assert image.shape == (1, 28, 28, 1) and image.dtype == np.float32
    assert probes["blank"].max() == 0.0
    assert probes["bar"].sum() == 40 and probes["square"].sum() == 256


def test_tonnaers_table_is_the_published_one():
    # Table 3.3 as printed; the page's sentence "9 of the 10 digits" reads it.
    assert odd_one_out.TONNAER[2][9] == 0.66 and odd_one_out.TONNAER[32][1] == 0.09
    better = sum(a > b for a, b in zip(*odd_one_out.TONNAER.values(), strict=True))
    assert better == 9


def test_a_runs_odd_labels_are_checked_on_the_server():
    assert runs.odd_labels(None, "mnist") == [] and runs.odd_labels([], "fashion") == []
    assert runs.odd_labels([7, "1", 7], "mnist") == [1, 7]
    for forged in ([10], [-1], ["x"], [None]):
        with pytest.raises(ClassError, match="labels of the dataset"):
            runs.odd_labels(forged, "mnist")
    with pytest.raises(ClassError, match="at least one class"):
        runs.odd_labels(list(range(10)), "fashion")


def test_the_odd_labels_travel_from_the_page_values_to_the_run_and_back():
    values = {**choices.defaults("vanilla"), "odd": [7, 1]}
    train, model = choices.configs("vanilla", values)
    assert train.odd == [1, 7]
    settings = choices.settings_for(train, model)
    assert settings["train"]["odd"] == [1, 7]
    back = choices.values_of(settings, "vanilla")
    assert back["odd"] == [1, 7]
    assert "all but 1, 7" in choices.describe(back)
    # An ordinary run says nothing of it.
    ordinary = choices.values_of(choices.settings_for(*choices.configs("vanilla", {})))
    assert "odd" not in ordinary and "all but" not in choices.describe(ordinary)


def test_a_challenge_does_not_take_a_run_that_never_saw_some_labels():
    challenge = Challenge.from_json({"title": "Best BCE", "metric": "bce"})
    values = choices.values_of(choices.settings_for(*choices.configs("vanilla", {})))
    assert challenge.meets("vanilla", values)
    assert not challenge.meets("vanilla", {**values, "odd": [3]})


def small_splits():
    """300 training images (labels 0, 1, 2 in turn), 30 validation, 30 test; a label's
    images are all that label's grey, so a model can tell what it saw."""
    from core.ml.training import Splits

    def part(count):
        labels = np.arange(count) % 3
        return (
            np.broadcast_to(labels[:, None, None] * 100, (count, 28, 28)).astype(np.uint8),
            labels,
        )

    (train, y_train), (val, y_val), (test, y_test) = part(300), part(30), part(30)
    return Splits(train, val, test, y_train, y_val, y_test)


def test_normal_only_leaves_the_odd_labels_out_of_training_and_validation_not_test():
    splits = small_splits()
    normal = splits.normal_only([1])
    assert set(normal.y_train) == {0, 2} and len(normal.pixels_train) == 200
    assert set(normal.y_val) == {0, 2} and len(normal.pixels_val) == 20
    assert normal.pixels_test is splits.pixels_test and set(normal.y_test) == {0, 1, 2}
    assert not (normal.pixels_train == 100).any()  # Label 1's grey is gone.
    assert splits.normal_only([]) is splits and normal.normal_only([1]) is normal


def test_an_odd_one_out_run_trains_on_the_normal_images_only():
    from core.ml import training, variants

    config = training.TrainConfig(epochs=2, batch_size=50, subset=None, validation=False, odd=[1])
    result = training.train(
        "vanilla", config, model_config=variants.make_config("vanilla", code_size=2),
        splits=small_splits(),
    )  # fmt: skip
    # Images seen per epoch, from its measured speed: the 200 of labels 0 and 2.
    seen = result.samples_per_second * result.seconds / result.epochs_completed
    assert seen == pytest.approx(200, rel=1e-6)


def test_a_small_upload_gets_the_epochs_that_make_up_its_updates():
    values = choices.defaults("vanilla")  # 5 epochs of 10,000 images, batches of 64.
    assert choices.scaled_to(values, 10_000) == values
    assert choices.scaled_to(values, 16_000)["epochs"] == 5  # Never fewer than chosen.
    # 2,000 images: 32 batches an epoch; 5 x 157 = 785 updates take 25 epochs.
    assert choices.scaled_to(values, 2_000)["epochs"] == 25
    assert choices.scaled_to(values, 200)["epochs"] == 50  # Capped by the limit,
    assert choices.scaled_to(values, 200, most_epochs=20)["epochs"] == 20  # or the server's.
