"""The engine's tasks: what a training worker does for the app, one Dask task each.

    train_run(run_id, database)       trains one run of the store (`core.cluster.job.train_run`)
    few_labels(name, labelled, seed)  the Inside page's few-label experiment
    score_challenge(id, database)     a new challenge's metric for the class's finished runs

They run in training workers (`python -m core.worker`), which call `warm()` before they join the
cluster, so TensorFlow, Keras, the project and the 60,000 training images are loaded once per
worker and every task finds them ready. Nothing here is ever called in the app server: the
server never loads the training images and never trains.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from core.config import settings

LOG = logging.getLogger("autoencoder_lab.tasks")

# Training workers offer one of these: it marks them in the scheduler's list (the engine counts
# them, deploy.cluster waits for them). The tasks do not ask for it: Dask never queues a task
# with resource restrictions on the scheduler (core.cluster.submission), so the lab needs a
# scheduler of its own; one thread per worker is what makes a worker train one run at a time.
RESOURCE = "training"


def lost_seconds() -> float:
    """How long a running run's worker may be silent before it is taken for dead
    (`AE_LOST_WORKER_SECONDS`): its heartbeat is written every
    `core.cluster.beside.HEARTBEAT_SECONDS` whatever the training loop is doing."""
    return settings().lost_worker_seconds


_cache: dict = {}  # This worker's store, data splits and shipped models, loaded once.
abort_check: Callable[[], bool] | None = None  # Set by the worker: true once its app is gone.


def task_key(run_id: int) -> str:
    """The Dask key of a run's task: stable, so any server can find, dedupe or cancel it."""
    return f"train-run-{run_id}"


def store():
    from core.store import Store

    if "store" not in _cache:
        # The worker's own configuration (AE_DATABASE_URL, AE_DATA_DIR) says where the store
        # is; the server created and migrated it before it submitted anything.
        _cache["store"] = Store(migrate=False)
    return _cache["store"]


def splits(dataset: str = "mnist"):
    """The dataset's splits, loaded once per worker (MNIST at start-up, others when a run
    first asks: ~1 s for Fashion-MNIST's files)."""
    from core.ml import data
    from core.ml.training import load_splits

    if data.own_id(dataset) is not None:
        # An upload: read for each run (at most 20,000 images, ~0.1 s), never kept, so a
        # worker's memory does not grow with the datasets students upload.
        data.use_store(store())
        return load_splits(dataset)
    found = _cache.setdefault("splits", {})
    if dataset not in found:
        found[dataset] = load_splits(dataset)
    return found[dataset]


def warm() -> None:
    """Import and load everything a task needs, before the worker accepts any."""
    import keras  # noqa: F401  (TensorFlow's import is most of a worker's start-up)
    import tf2onnx  # noqa: F401  (the first export of a run's model would pay ~0.4 s for it)

    store()
    splits()


def same_store(database: str) -> None:
    """Refuse to train a run of another database: a worker started with the wrong
    AE_DATABASE_URL would otherwise train run N of a different class, silently."""
    mine = store().display_url
    if database != mine:
        raise RuntimeError(
            f"this training worker uses the store {mine}, the app uses {database}: start the "
            "worker with the app's AE_DATABASE_URL"
        )


def train_run(run_id: int, database: str) -> str | None:
    """The Dask task of one run: claim it in the store, train it, record how it ended.

    Idempotent, because Dask may run a task again: a queued run is claimed (queued -> running,
    atomically) and trained; a run already running under another worker that has gone silent
    means that worker died mid-run (Dask re-runs the task of a lost worker), so it ends as
    interrupted with its last checkpoint; a run that is gone, has ended, or is being trained
    by a live worker is left alone.
    """
    from distributed import get_worker

    from core.cluster import job as runs

    same_store(database)
    opened = store()
    me = get_worker().address
    run = opened.run(run_id)
    if run is None or run.status not in {"queued", "running"}:
        return None
    if run.status == "running" and run.worker != me:
        # Another worker took it. Silent for a while: that worker died and Dask re-ran this
        # task. Still writing: a second task for the same run (another server submitted it
        # too) lost the claim, and must leave the run alone.
        silent = time.time() - (run.heartbeat_at or run.started_at or 0)
        if silent < lost_seconds():
            return None
        opened.finish(
            run_id,
            "interrupted",
            "its training worker stopped (killed, or out of memory); the last epoch's "
            "weights are kept",
            attempt=run.attempt,  # Not a claim made since this read.
        )
        return "interrupted"
    if run.status == "queued":
        attempt = opened.claim(run_id, me)
        if attempt is None:
            return None  # Left the queue, or taken, in the meantime.
    else:  # Dask ran this worker's task again: it still holds the claim it made.
        attempt = run.attempt
    try:
        return runs.train_run(opened, run_id, splits, should_abort=abort_check, attempt=attempt)
    finally:
        # This process serves no one else: free the graph between runs.
        import gc

        import keras

        keras.backend.clear_session()
        gc.collect()


def few_labels(name: str, labelled: int, seed: int, dataset: str = "mnist") -> dict[str, float]:
    """Test accuracy with `labelled` labelled training images: raw pixels, the shipped
    encoder frozen, and fine-tuned (`core.ml.few_labels.few_label_accuracies`)."""
    from core.ml import cards
    from core.ml.few_labels import few_label_accuracies

    models = _cache.setdefault("models", {})
    if (name, dataset) not in models:
        models[name, dataset] = cards.load_model(name, dataset=dataset)
    data = splits(dataset)
    return few_label_accuracies(
        models[name, dataset],
        data.x_train,
        data.y_train,
        data.x_test,
        data.y_test,
        labelled,
        seed,
    )


def score_challenge(challenge_id: int, database: str) -> int:
    """Score a challenge added mid-lesson: every finished run of its class that meets its
    rules and has no score yet, rebuilt from its checkpoint; returns how many were scored."""
    from core.lab import classroom
    from core.ml import choices
    from core.ml.choices import build_model

    same_store(database)
    opened = store()
    found = opened.challenge(challenge_id)
    if found is None:
        return 0
    class_id, rules = found
    challenge = classroom.Challenge.from_json(rules, challenge_id)
    done = {run for entry, run, _ in opened.scores(class_id) if entry == challenge_id}
    count = 0
    for run in opened.class_runs(class_id):
        if run.status != "finished" or run.id in done:
            continue
        dataset = run.dataset
        if not challenge.meets(run.variant, choices.values_of(run.settings), dataset):
            continue
        checkpoint = opened.checkpoint(run.id)
        if checkpoint is None:
            continue
        model = build_model(run.variant, run.settings)
        model.set_weights(checkpoint[1])
        value = classroom.challenge_value(challenge, run.metrics, model, splits(dataset).x_test)
        opened.add_score(challenge_id, run.id, value)
        count += 1
    return count


def worker_environment(database_url: str, idle_minutes: float | None = None) -> dict[str, str]:
    """The environment of a worker the app starts itself: its store, quiet TensorFlow."""
    environment = {**os.environ, "AE_DATABASE_URL": database_url}
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if idle_minutes is not None:
        environment["AE_WORKER_IDLE_MINUTES"] = str(idle_minutes)
    return environment
