"""Classroom reliability: server limits, hostile uploads and training edge cases in the pages."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import Settings
from tests.support.images import png_header_only
from tests.support.pages import page_alone, run_page

ROOT = Path(__file__).resolve().parents[2]


# Settings --------------------------------------------------------------------------------------


def test_limits_default_to_one_training_and_the_full_ranges():
    limits, problems = Settings.read({})
    assert limits == Settings(max_trainings=1, max_epochs=50, max_subset=55000) and not problems


def test_limits_come_from_the_first_source_that_has_them():
    secrets = {"AE_MAX_EPOCHS": 5}
    environment = {"AE_MAX_EPOCHS": "20", "AE_MAX_SUBSET": "2000", "AE_MAX_TRAININGS": " 2 "}
    limits, problems = Settings.read(secrets, environment)
    assert limits == Settings(max_trainings=2, max_epochs=5, max_subset=2000) and not problems


def test_bad_limit_values_are_ignored_with_a_message_not_a_crash():
    limits, problems = Settings.read(
        {"AE_MAX_TRAININGS": "0", "AE_MAX_EPOCHS": "many", "AE_MAX_SUBSET": "10"}
    )
    assert limits.max_trainings == 1 and limits.max_epochs == 50
    assert limits.max_subset == 100  # Raised to the smallest subset the page offers.
    assert len(problems) == 2 and all("positive whole number" in p for p in problems)
    assert Settings.read({"AE_MAX_EPOCHS": "500"})[0].max_epochs == 50  # The page's ceiling.


@pytest.fixture
def server_limits(monkeypatch):
    """Set AE_* variables for one AppTest (the settings are read again when they change)."""

    def apply(**values):
        for key, value in values.items():
            monkeypatch.setenv(key, str(value))

    yield apply
    monkeypatch.undo()


def test_train_page_offers_no_more_than_the_server_allows(server_limits):
    server_limits(AE_MAX_EPOCHS=8, AE_MAX_SUBSET=2000)
    app = run_page("pages/train.py")
    assert app.slider(key="epochs_vanilla").max == 8
    options = app.select_slider(key="subset_vanilla").options  # Shown as "2,000".
    assert max(options, key=lambda shown: int(shown.replace(",", ""))) == "2,000"
    server_limits(AE_MAX_EPOCHS=1, AE_MAX_SUBSET=100)
    app = run_page("pages/train.py")
    captions = " ".join(c.value for c in app.caption)
    assert "Epochs: 1" in captions and "Training images: 100" in captions


# Uploads in the Draw page --------------------------------------------------------------------


def image_file(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def digit_image(mode: str = "L") -> Image.Image:
    from core.ml.data import load_mnist

    (_, _), (x_test, _) = load_mnist()
    return Image.fromarray(x_test[0]).resize((140, 140)).convert(mode)


def upload(name: str, data: bytes, mime: str):
    app = run_page("pages/draw.py", draw_source="Upload")
    app.file_uploader(key="draw_upload").set_value((name, data, mime)).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


BAD_UPLOADS = {
    "text named .png": ("notes.png", b"just some text, not an image", "could not be read"),
    "truncated PNG": ("cut.png", image_file(digit_image(), "PNG")[:300], "could not be read"),
    "20000x20000 PNG": ("bomb.png", png_header_only(20000, 20000), "too large"),
    "over 5 MB": ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(5 * 1024 * 1024), "MB"),
    "GIF renamed .png": ("anim.png", image_file(digit_image(), "GIF"), "could not be read"),
}


# Each upload through the page; tests/unit/test_preprocess.py checks these files fast.
@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_upload_gets_a_message_in_the_page(case):
    name, data, message = BAD_UPLOADS[case]
    app = upload(name, data, "image/png")
    assert any(message in w.value for w in app.warning), [w.value for w in app.warning]
    assert "Input (28x28)" not in captions_of(app)  # Nothing half-drawn.


def captions_of(app) -> list[str]:
    return [image.proto.imgs[0].caption for image in app.image]


GOOD_UPLOADS = {
    "16-bit PNG": lambda: image_file(
        Image.fromarray(np.asarray(digit_image(), np.uint16) * 257), "PNG"
    ),
    "RGBA PNG": lambda: image_file(
        Image.merge("RGBA", [Image.new("L", (140, 140), 255)] * 3 + [digit_image()]), "PNG"
    ),
    "CMYK JPEG": lambda: image_file(
        Image.merge("CMYK", [Image.new("L", (140, 140), 0)] * 3 + [digit_image()]), "JPEG"
    ),
}


# Each upload through the page; tests/unit/test_preprocess.py checks these files fast.
@pytest.mark.slow
@pytest.mark.parametrize("case", list(GOOD_UPLOADS))
def test_unusual_but_valid_uploads_are_reconstructed(case):
    app = upload("digit.png", GOOD_UPLOADS[case](), "image/png")
    assert not app.warning, [w.value for w in app.warning]
    assert "Vanilla reconstruction" in captions_of(app), captions_of(app)


def test_upload_widget_accepts_only_images_never_model_files():
    app = run_page("pages/draw.py", draw_source="Upload")
    allowed = set(app.file_uploader(key="draw_upload").proto.type)
    assert allowed == {".png", ".jpg", ".jpeg"}


# Security settings ---------------------------------------------------------------------------


def test_no_page_writes_raw_html_and_no_model_is_loaded_from_user_bytes():
    sources = [*ROOT.glob("pages/*.py"), *ROOT.glob("ui/*.py"), ROOT / "app.py"]
    for source in sources:
        text = source.read_text()
        assert "unsafe_allow_html" not in text, source
        assert "load_model(" not in text or source.name == "resources.py", source
        assert "st.html(" not in text, source
        # The one iframe is the latent pad: our own template filled with numbers and our own
        # pictures (ui.latent_pad), never with text a user typed or uploaded.
        assert "st.iframe(" not in text or source.name == "latent.py", source


def test_server_config_keeps_xsrf_on_limits_uploads_and_holds_no_secrets():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit/config.toml").read_text())
    assert config["server"].get("enableXsrfProtection", True) is True
    # The server's own ceiling: Your images' zips (AE_MAX_DATASET_MB's default).
    assert config["server"]["maxUploadSize"] <= 50
    # Every uploader sets its own limit under it: Draw's one photo stays at 5 MB.
    for source in (ROOT / "pages").glob("*.py"):
        for call in source.read_text().split("st.file_uploader(")[1:]:
            assert "max_upload_size=" in call.split(")\n")[0], source
    assert "max_upload_size=5," in (ROOT / "pages/draw.py").read_text()
    # A source watcher re-walks every imported module after each rerun (see the config's note).
    assert config["server"]["fileWatcherType"] == "none"
    assert not (ROOT / ".streamlit/secrets.toml").exists()
    assert ".streamlit/secrets.toml" in (ROOT / ".gitignore").read_text()


# Training edge cases in the Train page -------------------------------------------------------


def train_page():
    """The Train page run as its own script (see tests.app.test_pages.page_alone)."""
    return page_alone("pages/train.py")


def weights_digest(model) -> str:
    """A served model's weights the pages read and what it computes on fixed images."""
    digest = hashlib.sha256()
    probe = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    for array in [*model.arrays.values(), model(probe)]:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def press_train(app, **settings):
    """Set the sliders, press Train; returns the run the page queued (read from the store)."""
    from ui import identity, services

    for key, value in settings.items():
        chooser = key.startswith(("learning_rate_", "batch_size_", "subset_"))
        (app.select_slider(key=key) if chooser else app.slider(key=key)).set_value(value)
    next(b for b in app.button if b.label == "Train").click().run()
    assert not app.exception, [e.value for e in app.exception]
    me = app.session_state[identity.STUDENT]
    return services.store().runs(me.id)[0]


def finish(app, run, timeout: float = 180):
    """Wait until the run has ended in the store, then rerun the page; returns the run."""
    from ui import services

    deadline = time.monotonic() + timeout
    while services.store().run(run.id).active:
        assert time.monotonic() < deadline, f"run {run.id} did not end"
        time.sleep(0.2)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return services.store().run(run.id)


@pytest.mark.slow
def test_learning_rate_ten_stops_says_so_and_keeps_the_shared_model():
    from ui import resources

    shared = resources.pretrained_model("vanilla")
    before = weights_digest(shared)
    app = train_page()
    run = press_train(app, learning_rate_vanilla=10.0, subset_vanilla=1000, epochs_vanilla=3)
    assert finish(app, run).status == "diverged"
    said = [e.value for e in app.error if "loss exploded" in e.value]
    assert said, [e.value for e in app.error]
    # A rate the slider offers below the run's own, never one above it.
    assert "This run's learning rate was 10: try 1 or lower." in said[0], said
    assert weights_digest(shared) == before  # The server-wide model is untouched.


@pytest.mark.slow
def test_batch_larger_than_subset_trains_and_the_run_survives_page_changes():
    from ui import services

    app = train_page()
    run = press_train(app, batch_size_vanilla=512, subset_vanilla=100, epochs_vanilla=50)
    assert run.settings["train"]["batch_size"] == 512
    app.session_state["variant"] = "conv"  # Another widget changes mid-training...
    app.run()
    assert not app.exception
    assert f"Run {run.id}: Vanilla" in [h.value for h in app.subheader]  # ...the run stays.
    deadline = time.monotonic() + 120  # Until it trains (a cold worker needs a few seconds).
    while services.store().run(run.id).phase != "training":
        assert time.monotonic() < deadline, services.store().run(run.id)
        time.sleep(0.1)
    app.session_state["variant"] = "vanilla"
    app.run()
    next(b for b in app.button if b.label == "Stop").click().run()
    assert not app.exception
    run = finish(app, run)
    assert run.status == "stopped" and run.epochs_done >= 1  # Batch 512 on 100: it trained.
    from core.ml.choices import build_model

    weights = services.store().checkpoint(run.id)[1]
    model = build_model("vanilla", run.settings)
    model.set_weights(weights)
    out = np.asarray(model(np.zeros((1, 28, 28, 1), np.float32), training=False))
    assert out.shape == (1, 28, 28, 1) and np.isfinite(out).all()
    assert any("Stopped after" in m.value for m in app.info)


def test_a_student_in_the_queue_sees_the_place_and_can_leave(server_limits, lab_store):
    from core.ml import variants
    from core.ml.choices import settings_for
    from core.ml.training import TrainConfig
    from ui import services

    server_limits(AE_MAX_TRAININGS=1)
    someone = lab_store.new_student()[0]  # Another student trains a long run first.
    config = TrainConfig(epochs=40, subset=3000, batch_size=32)
    theirs = lab_store.create_run(
        someone, "vanilla", settings_for(config, variants.make_config("vanilla")), 40
    )
    app = train_page()  # Opens the store and the engine.
    services.engine().submit(theirs)
    try:
        deadline = time.monotonic() + 180
        while lab_store.run(theirs).status == "queued":
            assert time.monotonic() < deadline, f"the other run never started: {lab_store.counts()}"
            time.sleep(0.2)
        assert lab_store.run(theirs).status == "running", lab_store.run(theirs)
        run = press_train(app)
        app.run()
        assert lab_store.run(run.id).status == "queued"  # The one worker is busy.
        waiting = " ".join(i.value for i in app.info)
        assert "Waiting for a free training slot: 1 training now" in waiting
        assert "you are next" in waiting
        next(b for b in app.button if b.label == "Leave the queue").click().run()
        assert not app.exception
        assert lab_store.run(run.id) is None  # Never started: nothing to keep.
        assert not [b for b in app.button if b.label == "Leave the queue"]
    finally:
        lab_store.request_stop(theirs, someone)


def test_a_full_queue_says_the_lab_is_busy_and_queues_nothing(server_limits, lab_store):
    # A public demo: nothing limited how many runs new links could queue.
    from core.ml import variants
    from core.ml.choices import settings_for
    from core.ml.training import TrainConfig

    server_limits(AE_MAX_QUEUED=1)
    someone = lab_store.new_student()[0]
    waiting = lab_store.create_run(
        someone, "vanilla", settings_for(TrainConfig(), variants.make_config("vanilla")), 20
    )
    try:
        app = train_page()
        queued = lab_store.counts().get("queued", 0)
        next(b for b in app.button if b.label == "Train").click().run()
        assert not app.exception, [e.value for e in app.exception]
        assert any("the lab is busy" in w.value.lower() for w in app.warning)
        assert "try again in a minute" in " ".join(w.value for w in app.warning)
        assert lab_store.counts().get("queued", 0) == queued  # Nothing more waits.
    finally:
        lab_store.request_stop(waiting, someone)


# A store that cannot be opened --------------------------------------------------------------


@pytest.fixture
def store_at(monkeypatch):
    """Point the app's store at a URL for one test, starting from a clean slate."""
    from ui import services

    def point(url: str) -> None:
        monkeypatch.setenv("AE_DATABASE_URL", url)
        services._open_store.clear()
        services._store_failure = None

    yield point
    monkeypatch.undo()
    services._open_store.clear()
    services._store_failure = None


def broken_sqlite(tmp_path, kind: str) -> str:
    from core.store import Store

    path = tmp_path / "runs.sqlite"
    if kind == "corrupt":
        path.write_bytes(b"not a database at all" * 200)
        return f"sqlite:///{path}"
    Store(f"sqlite:///{path}").close()  # A real, migrated store, then opened read-only.
    return f"sqlite:///file:{path}?mode=ro&uri=true"


@pytest.mark.parametrize("kind", ["unreachable postgresql", "corrupt", "read-only"])
def test_a_broken_store_leaves_the_pretrained_lab_running(store_at, tmp_path, kind):
    store_at(
        "postgresql+psycopg://lab:secret@127.0.0.1:1/lab"
        if kind == "unreachable postgresql"
        else broken_sqlite(tmp_path, kind)
    )
    app = run_page("pages/draw.py", draw_source="Test digit")
    assert len(app.image) >= 10  # Every pretrained model still reconstructs.
    banner = " ".join(w.value for w in app.sidebar.warning)
    assert "training is off" in banner and "secret" not in banner and "127.0.0.1" not in banner
    train = page_alone("pages/train.py")
    assert not train.warning  # One banner (the sidebar's), not one more per page.
    assert any("Training is off" in c.value for c in train.caption)
    assert next(b for b in train.button if b.label == "Train").disabled
