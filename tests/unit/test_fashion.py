"""Fashion-MNIST, the second dataset: read from Debian's idx files, the shipped models of every
variant with cards, their bars measured again independently of core.ml.metrics, the entropy floor
of BCE, and garment photos prepared the way Fashion-MNIST's images were made."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pytest
from PIL import Image

from core.ml import cards, data, evaluate, metrics, preprocess, variants

SHIPPED = variants.all_names()


@pytest.fixture(scope="module")
def fashion():
    return data.load("fashion")


@pytest.fixture(scope="module")
def x_test(fashion):
    return data.to_images(fashion[1][0])


def test_debians_files_read_as_keras_reads_them(fashion):
    (x_train, y_train), (x_test, y_test) = fashion
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    # The first labels of the official files (ankle boot, T-shirt, T-shirt, dress, ...).
    assert list(y_train[:10]) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert list(y_test[:5]) == [9, 2, 1, 1, 6]
    assert np.bincount(y_train).tolist() == [6000] * 10  # Balanced: 6,000 of each class.
    assert np.bincount(y_test).tolist() == [1000] * 10
    # The first test image straight from the gzip file, header skipped by hand.
    with gzip.open(data.FASHION_DIR / "t10k-images-idx3-ubyte.gz") as handle:
        raw = handle.read()
    assert int.from_bytes(raw[4:8], "big") == 10000  # The idx header's image count.
    assert np.array_equal(np.frombuffer(raw[16 : 16 + 784], np.uint8).reshape(28, 28), x_test[0])


def test_bce_floor_is_the_mean_pixel_entropy(x_test):
    x = x_test.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(np.nan_to_num(x * np.log(x)) + np.nan_to_num((1 - x) * np.log(1 - x)))
    assert metrics.bce_floor(x_test) == pytest.approx(entropy.mean(), abs=1e-4)
    assert metrics.bce_floor(x_test) == pytest.approx(0.242, abs=5e-4)


def test_missing_fashion_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AE_FASHION_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("AE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_read_keras", lambda name="mnist": None)  # This machine: offline.
    assert "apt-get install dataset-fashion-mnist" in data.available("fashion")
    with pytest.raises(data.DatasetUnavailable, match="dataset-fashion-mnist"):
        data.load("fashion")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_model_is_shipped_for_fashion_with_a_card(name):
    card = cards.load_card(name, dataset="fashion")
    assert card is not None, f"trained/fashion/{name}.json is missing"
    assert card["dataset"] == "fashion" and card["training"]["dataset"] == "fashion"
    assert card["metrics"]["test_images"] == 10000
    assert card["metrics"]["bce"] > card["metrics"]["bce_floor"] == pytest.approx(0.2422, 1e-3)
    config = variants.get(name).config_class(**card["config"])
    rebuilt = variants.build(name, config)
    rebuilt.set_weights(cards.load_model(name, dataset="fashion").get_weights())


# Two bars (MSE <= 0.0120) are not met: vanilla 0.0125 after 100 epochs, conv 0.0124 after
# 60; the variants' recipes say what was tried. Strict: the test fails the day a retrained
# model meets its bar, so the mark cannot outlive the miss.
VANILLA_MISS = pytest.mark.xfail(strict=True, reason="vanilla on Fashion-MNIST: MSE 0.0125")
CONV_MISS = pytest.mark.xfail(strict=True, reason="conv on Fashion-MNIST: MSE 0.0124")


@pytest.mark.slow  # Every model over the test set.
@pytest.mark.parametrize("name", ["vanilla", "conv", "deep", "tied", "vae"])
def test_fashion_cards_mse_is_what_the_model_does(name, x_test):
    """The card's MSE, measured again with plain numpy on the model's output."""
    model = cards.load_model(name, dataset="fashion")
    output = np.concatenate(
        [np.asarray(model(x_test[i : i + 2000], training=False)) for i in range(0, 10000, 2000)]
    )
    mse = float(((output - x_test) ** 2).mean())
    assert mse == pytest.approx(
        cards.load_card(name, dataset="fashion")["metrics"]["mse"], rel=1e-3
    )


@pytest.mark.parametrize(
    "name, bar",
    [
        pytest.param("vanilla", 0.0120, marks=VANILLA_MISS),
        pytest.param("conv", 0.0120, marks=CONV_MISS),
        ("deep", 0.0100),
        ("tied", 0.0100),
        ("vae", 0.035),
    ],
)
def test_fashion_bars(name, bar):
    assert cards.load_card(name, dataset="fashion")["metrics"]["mse"] <= bar


@pytest.mark.slow  # Fits PCA on 60,000 images.
def test_fashion_linear_is_within_three_percent_of_pca(fashion, x_test):
    model = cards.load_model("linear", dataset="fashion")
    mse = float(((np.asarray(model(x_test, training=False)) - x_test) ** 2).mean())
    train = data.to_images(fashion[0][0]).reshape(60000, -1)
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(
        train[::3] - mean, full_matrices=False
    )  # numpy's SVD, not core.ml.pca.
    flat = x_test.reshape(10000, -1) - mean
    pca_mse = float((((flat @ vt[:32].T) @ vt[:32] - flat) ** 2).mean())
    assert pca_mse == pytest.approx(0.0151, abs=2e-4)  # The figure for PCA-32.
    assert mse <= 1.03 * pca_mse


def test_the_fashion_report_lists_every_bar():
    table, _ = evaluate.report(dataset="fashion")
    for name in ("vanilla", "deep", "conv", "vae", "linear", "tied"):
        assert f"| {name} |" in table


def test_a_garment_photo_fills_the_frame_centred_by_its_box():
    """A dark 60x30 garment shape on white paper: inverted, the long side scaled to 28 pixels,
    centred by its box (Fashion-MNIST's recipe), not shrunk into MNIST's 20-pixel box."""
    paper = np.full((200, 300), 255, np.uint8)
    paper[20:140, 200:260] = 30  # 120 tall, 60 wide, far off-centre.
    buffer = io.BytesIO()
    Image.fromarray(paper).save(buffer, "PNG")
    image = preprocess.upload_to_fashion(buffer.getvalue())
    assert image.shape == (28, 28)
    rows = np.flatnonzero(image.max(axis=1) > 0.5)
    columns = np.flatnonzero(image.max(axis=0) > 0.5)
    assert rows[0] == 0 and rows[-1] == 27  # The long side fills the frame.
    assert 13 <= len(columns) <= 15 and columns[0] in (7, 8)  # Half as wide, centred.
    assert image.max() == pytest.approx(225 / 255, abs=0.02)  # Inverted: light garment.


def test_a_blank_photo_gets_a_clear_message():
    buffer = io.BytesIO()
    Image.new("L", (100, 100), 255).save(buffer, "PNG")
    with pytest.raises(preprocess.EmptyDrawing, match="one garment"):
        preprocess.upload_to_fashion(buffer.getvalue())
