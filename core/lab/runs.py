"""The life of a run, one path for every page: start a run or a race, stop it or leave the
queue, continue it, delete it.

Each function changes the store first, because the store is what counts: a run queued there
is trained even when the training cluster is away (the cluster's client submits every queued
run it has no task for once it is back), and pages only ever read the store. Then it tells the
cluster, through `cluster`, the app's `core.cluster.client.Engine` (or None when there is
none): anything with `submit(run_id)` and `cancel(run_id)` that raises `ConnectionError` when
the cluster cannot be reached. This module imports nothing of the cluster, so the lab's rules
and the cluster's code never import each other.

A class's locks and limits and the server's limits are applied here, on the server, whatever a
browser sent (a forged widget value, a URL parameter): a locked setting trains with the
teacher's value. Refusals are `core.store.Refused` (`Busy`, `LabBusy`, `ClassError`): a message
for the one user who asked, in their language (raised in their script run: `_()` reads it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from core.config import Settings
from core.i18n import _
from core.lab.classroom import ClassError, Setup
from core.ml import choices, data, variants
from core.store import Owner, Store

LOG = logging.getLogger("autoencoder_lab.runs")
MOST_RACERS = 4


@dataclass(frozen=True)
class Started:
    """Runs queued in the store; `submitted` is False when the cluster could not be told now
    (they start when it is back)."""

    ids: list[int]
    submitted: bool


def start(
    store: Store,
    cluster,
    student_id: int,
    racers: list[tuple[str, dict]],
    *,
    dataset: str = "mnist",
    limits: Settings | None = None,
) -> Started:
    """Queue one run, or a race of two to four, for a student on `dataset`, and hand them to
    the training cluster. `racers` is [(variant, the chosen values)]. Raises `Busy` while the
    student has a run queued or training, `LabBusy` when the server's queue is full, and
    `ClassError` for what the lesson does not allow."""
    limits = limits or Settings()
    common = {
        "dataset": dataset,
        "max_epochs": limits.max_epochs,
        "max_subset": limits.max_subset,
        "max_runs": limits.max_runs_per_student,
        "max_queued": limits.max_queued,
    }
    if len(racers) == 1:
        ids = [start_run(store, student_id, *racers[0], **common)]
    else:
        ids = start_race(store, student_id, racers, **common)
    return Started(ids, all(submit(cluster, run_id) for run_id in ids))


def submit(cluster, run_id: int) -> bool:
    """Hand a run queued in the store to the cluster; False if it cannot be reached now (the
    run stays queued in the store and is submitted when the cluster is back)."""
    if cluster is None:
        return False
    try:
        cluster.submit(run_id)
    except ConnectionError as error:
        LOG.warning("run %s stays queued: %s", run_id, error)
        return False
    return True


def stop(store: Store, cluster, run, student_id: int) -> str:
    """Stop a training run after its current batch, or take a queued one out of the queue
    (the store's queue and the scheduler's). Returns "left" or "stopping"."""
    store.request_stop(run.id, student_id)
    if run.status != "queued":
        return "stopping"
    if cluster is not None:
        try:
            cluster.cancel(run.id)
        except ConnectionError:  # The task checks the store anyway: a run not queued is skipped.
            LOG.warning("run %s left the queue; its task could not be cancelled", run.id)
    return "left"


def resume(store: Store, cluster, run_id: int, student_id: int) -> bool:
    """Continue a stopped or interrupted run from its last checkpoint; returns whether the
    cluster was told. Raises `Busy` while another of the student's runs is active, `Refused`
    if the run cannot be continued."""
    store.continue_run(run_id, student_id)
    return submit(cluster, run_id)


def delete(store: Store, run_id: int, student_id: int) -> bool:
    """Delete an ended run of the student's with everything it stored."""
    return store.delete_run(run_id, student_id)


def usable(run) -> bool:
    """A run with weights to use: at least one epoch trained and not training now."""
    return run.epochs_done > 0 and not run.active


def continuable(run) -> bool:
    """An interrupted run (which may have all its epochs and lack its test metrics: lost while
    measuring), or one stopped before its last epoch."""
    return run.status == "interrupted" or (
        run.status == "stopped" and run.epochs_done < run.epochs_total
    )


def owners(student_id: int, room=None) -> list:
    """Whose uploaded datasets a student may use: their own, and their class's."""
    return [Owner(student_id=student_id), *([Owner(class_id=room.id)] if room else [])]


def odd_labels(odd, dataset: str) -> list[int]:
    """The labels an odd-one-out run leaves out of training, checked: known labels of the
    dataset, and at least one class left to learn normal from; [] for an ordinary run."""
    if not odd:
        return []
    classes = len(data.get(dataset).labels)
    try:
        labels = sorted({int(label) for label in odd})
    except (TypeError, ValueError):
        labels = [-1]
    if labels[0] < 0 or labels[-1] >= classes:
        raise ClassError(_("the odd ones must be labels of the dataset"))
    if len(labels) >= classes:
        raise ClassError(_("leave at least one class as normal to train on"))
    return labels


def labelled(variant: str, dataset: str) -> None:
    """A conditional model learns from labels: refused on an upload without folders, or with
    more classes than the model has (the worker would fail it after the queue)."""
    most = variants.get(variant).classes
    if most and not 0 < len(data.get(dataset).labels) <= most:
        raise ClassError(
            _(
                "{variant} learns from labelled images: it needs a dataset in folders, one per "
                "class, {most} at most"
            ).format(variant=_(variants.get(variant).title), most=most)
        )


# The lesson's rules ---------------------------------------------------------------------------


def lesson_specs(
    store: Store,
    student_id: int,
    racers: list[tuple[str, dict]],
    dataset: str,
    max_epochs: int,
    max_subset: int,
):
    """(the student's class or None, [(variant, settings, epochs)]) of runs to queue: in a
    class with its locks and limits applied, refused while the teacher has paused trainings;
    the server's limits apply to everyone."""
    room, _membership = store.member(student_id)
    if room is not None and room.paused:
        raise ClassError(_("your teacher has paused new trainings for the class"))
    own = data.own_id(dataset)
    if own is not None and store.dataset(own, owners(student_id, room)) is None:
        # Another student's upload (a forged link): the same answer as for a deleted one.
        raise ClassError(_("that dataset of images is not yours, or was deleted"))
    setup = Setup.from_json(room.setup) if room else Setup()
    setup = replace(
        setup,
        max_epochs=min(setup.max_epochs, max_epochs),
        max_subset=min(setup.max_subset, max_subset),
    )
    specs = []
    for variant, values in racers:
        labelled(variant, dataset)
        chosen = {**setup.apply(variant, values), "odd": odd_labels(values.get("odd"), dataset)}
        train, model = choices.configs(variant, chosen, data.get(dataset).name)
        specs.append((variant, choices.settings_for(train, model), train.epochs))
    return room, specs


def start_run(
    store: Store,
    student_id: int,
    variant: str,
    values: dict,
    *,
    dataset: str = "mnist",
    max_epochs: int = choices.MOST_EPOCHS,
    max_subset: int = data.ALL_IMAGES,
    max_runs: int = 30,
    max_queued: int | None = None,
) -> int:
    """Queue a run for a student in the store (the cluster is not told: `start` does both):
    in a class, with its locks and limits applied and refused while the teacher has paused
    trainings; the server's limits apply to everyone (LabBusy once `max_queued` runs wait)."""
    room, specs = lesson_specs(
        store, student_id, [(variant, values)], dataset, max_epochs, max_subset
    )
    (variant, run_settings, epochs) = specs[0]
    return store.create_run(
        student_id,
        variant,
        run_settings,
        epochs,
        max_runs=max_runs,
        class_id=room.id if room else None,
        max_queued=max_queued,
    )


def start_race(
    store: Store,
    student_id: int,
    racers: list[tuple[str, dict]],
    *,
    dataset: str = "mnist",
    max_epochs: int = choices.MOST_EPOCHS,
    max_subset: int = data.ALL_IMAGES,
    max_runs: int = 30,
    max_queued: int | None = None,
) -> list[int]:
    """Queue two to four runs that race, in the store: (variant, values) each, trained on the
    same images with the same seed (the subset is drawn from the seed, so equal seeds and sizes
    mean equal images), every one with the lesson's locks and the limits applied as a single
    run would be. They are ordinary runs, tagged with the race (the first run's id) in their
    settings. Raises Busy while the student has a run queued or training."""
    if not 2 <= len(racers) <= MOST_RACERS:
        raise ClassError(
            _("a race needs 2 to {most} racers, got {count}").format(
                most=MOST_RACERS, count=len(racers)
            )
        )
    room, specs = lesson_specs(store, student_id, racers, dataset, max_epochs, max_subset)
    return store.create_runs(
        student_id,
        specs,
        max_runs=max_runs,
        class_id=room.id if room else None,
        race=True,
        max_queued=max_queued,
    )
