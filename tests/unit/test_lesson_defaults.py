"""The lessons' defaults make their points, as measured when they were chosen (issue 27):
the default race ranks its racers as its recorded figures do, and the Train page's default
VAE run reconstructs digits a classifier recognises. Each trains as the lab would, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from core.ml import choices
from tests.support.readers import digit_reader

pytestmark = pytest.mark.slow  # Trains the default race (~35 s) and the default VAE (~35 s).


def trained(variant: str, values: dict, splits):
    from core.ml.training import train

    train_config, model_config = choices.configs(variant, values)
    return train(variant, train_config, model_config, splits=splits).model


def test_the_default_race_ranks_its_racers_as_its_recorded_figures(splits):
    race = choices.DEFAULT_RACE
    values = {"epochs": race["epochs"], "subset": race["subset"]}
    measured = {}
    for racer in race["racers"]:
        output = np.asarray(trained(racer, values, splits).predict(splits.x_val, verbose=0))
        measured[racer] = float(np.mean((output - splits.x_val) ** 2))
    recorded = choices.DEFAULT_RACE_MSE
    assert sorted(measured, key=measured.get) == sorted(recorded, key=recorded.get), measured
    # The Race page quotes the recorded figures: they must still be this run's, within 10%.
    for racer, mse in measured.items():
        assert mse == pytest.approx(recorded[racer], rel=0.10), (racer, mse)
    # The point of the lesson: the linear model (PCA's limit) is last.
    assert max(measured, key=measured.get) == "linear"


def test_the_train_pages_notes_quote_the_recorded_figures():
    from core.ml import cards

    race = choices.DEFAULT_RACE_MSE
    deep = choices.live_note("deep")
    assert f"{race['deep']:.4f} against vanilla's {race['vanilla']:.4f}" in deep
    assert (race["deep"], race["vanilla"]) == (0.0150, 0.0128)
    shipped = [cards.load_card(name) for name in ("deep", "vanilla")]
    assert f"{shipped[0]['metrics']['mse']:.4f} against {shipped[1]['metrics']['mse']:.4f}" in deep
    assert all(card["training"]["epochs"] == 100 for card in shipped)
    assert "72%" in choices.live_note("vae") and "49%" in choices.live_note("vae")
    assert choices.live_note("vanilla") == ""


def test_the_default_vae_run_reconstructs_recognisable_digits(splits):
    reader = digit_reader(splits.x_train, splits.y_train)

    def recognised(images) -> float:
        guesses = np.asarray(reader.predict(images, verbose=0)).argmax(axis=1)
        return float(np.mean(guesses == splits.y_val))

    assert recognised(splits.x_val) > 0.96  # The reader itself reads the digits.
    vae = trained("vae", {}, splits)  # The Train page's defaults for the VAE.
    # Recorded in the VAE's declaration and quoted by the Train page: 71.6% (72%); the old
    # default (5 epochs at 2e-3) read 49%.
    assert recognised(np.asarray(vae.predict(splits.x_val, verbose=0))) == pytest.approx(
        0.716, abs=0.05
    )


def test_the_default_vae_run_on_fashion_mnist_trains_without_exploding():
    """At MNIST's 5e-3 the default Fashion-MNIST VAE run (seed 0) diverged in its first epoch
    (the browser walkthrough met it twice); its own default rate trains."""
    from core.ml.training import load_splits, train

    values = choices.defaults("vae", "fashion")
    assert values["learning_rate"] == 2e-3 and choices.defaults("vae")["learning_rate"] == 5e-3
    train_config, model_config = choices.configs("vae", {"epochs": 2}, dataset="fashion")
    assert train_config.learning_rate == 2e-3 and train_config.seed == 0
    result = train("vae", train_config, model_config, splits=load_splits("fashion"))
    assert not result.diverged and result.epochs_completed == 2
    assert result.history["val_loss"][-1] < 300  # nats per image; 275-281 measured here


def test_a_diverged_run_is_offered_the_next_rate_down():
    assert choices.calmer_rate(5e-3) == 2e-3
    assert choices.calmer_rate(10.0) == 1.0
    assert choices.calmer_rate(1e-2) == 5e-3
    assert choices.calmer_rate(min(choices.LEARNING_RATES)) is None
    assert choices.calmer_rate(None) is None
