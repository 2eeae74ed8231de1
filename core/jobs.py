"""Training in a background thread, so a page can show progress, stay responsive and stop it.

A `TrainingJob` wraps `core.training.train`: the page starts it, polls `snapshot()` a few
times a second from a Streamlit fragment, and calls `stop()` from a button. Widget clicks
never interrupt the training thread, and the weights reached so far are kept on a stop.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from core.callbacks import Progress
from core.training import Splits, TrainConfig, TrainResult, train


@dataclass
class Snapshot:
    """What a page needs to draw a training run at one instant."""

    state: str  # "running", "done", "stopped", "diverged" or "failed"
    progress: Progress | None = None
    # Loss curve points: (epoch as a fraction, series name, value).
    curve: list[tuple[float, str, float]] = field(default_factory=list)
    samples: np.ndarray | None = None  # Reconstructions of the fixed digits, latest epoch.
    samples_epoch: int = 0  # Epochs finished when `samples` was computed.
    error: str | None = None


class TrainingJob:
    """One training run of one variant in its own daemon thread."""

    def __init__(
        self,
        name: str,
        config: TrainConfig,
        model_config,
        splits: Splits,
        sample_images: np.ndarray | None = None,
    ):
        self.name = name
        self.config = config
        self.model_config = model_config
        self.splits = splits
        self.sample_images = sample_images
        self.result: TrainResult | None = None
        self.started_at = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._snapshot = Snapshot(state="running")
        self._model = None
        self._last_epochs = -1
        self._thread = threading.Thread(target=self._run, name=f"train-{name}", daemon=True)

    # The page's side -------------------------------------------------------------------------

    def start(self) -> TrainingJob:
        self.started_at = time.time()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask training to end after the current batch; pressing twice is harmless."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def snapshot(self) -> Snapshot:
        with self._lock:
            snap = self._snapshot
            return Snapshot(
                snap.state,
                snap.progress,
                list(snap.curve),
                snap.samples,
                snap.samples_epoch,
                snap.error,
            )

    # The training thread's side --------------------------------------------------------------

    def _reconstruct_samples(self, model) -> np.ndarray | None:
        if self.sample_images is None:
            return None
        return np.asarray(model(self.sample_images, training=False))

    def _on_progress(self, progress: Progress) -> None:
        finished = len(progress.history.get("loss", []))
        position = progress.epoch + progress.batch / max(1, progress.batches)
        points = []
        if not progress.done:
            for key in ("loss", "reconstruction_loss", "kl_loss"):
                if key in progress.logs:
                    points.append((position, key, progress.logs[key]))
        samples = None
        if finished != self._last_epochs and self._model is not None:
            # A new epoch ended: refresh the sample reconstructions (in this thread, so the
            # page never touches a model that is being trained).
            self._last_epochs = finished
            samples = self._reconstruct_samples(self._model)
            for key in ("val_loss", "val_reconstruction_loss", "val_kl_loss"):
                if key in progress.history:
                    points.append((float(finished), key, progress.history[key][-1]))
        with self._lock:
            snap = self._snapshot
            snap.progress = progress
            snap.curve.extend(points)
            if samples is not None:
                snap.samples, snap.samples_epoch = samples, finished

    def _run(self) -> None:
        try:
            from core import variants

            self._model = variants.get(self.name).build(self.model_config)
            self._last_epochs = 0
            with self._lock:
                self._snapshot.samples = self._reconstruct_samples(self._model)
            self.result = train(
                self.name,
                self.config,
                model_config=self.model_config,
                model=self._model,
                splits=self.splits,
                on_progress=self._on_progress,
                should_stop=self._stop.is_set,
            )
            state = (
                "diverged" if self.result.diverged else "stopped" if self.result.stopped else "done"
            )
            with self._lock:
                self._snapshot.state = state
        except Exception as error:  # Reported in the page; the server must keep serving.
            with self._lock:
                self._snapshot.state = "failed"
                self._snapshot.error = f"{type(error).__name__}: {error}"
            traceback.print_exc()
