"""Server-wide limits for a hosted lab: how many trainings at once, how long, on how much data.

A teacher sets them for a classroom server through environment variables or Streamlit secrets
(`.streamlit/secrets.toml`); environment variables win, so a deployment can override a
checked-in secrets file. A value that is not a positive whole number is ignored with a
message, not a crash: a typo in a config file must not take the lab down for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from core.ml.choices import FEWEST_IMAGES, MOST_EPOCHS
from core.ml.data import ALL_IMAGES


@dataclass(frozen=True)
class Limits:
    max_trainings: int = 1  # Trainings running at once; one keeps 2 cores responsive.
    max_epochs: int = MOST_EPOCHS
    max_subset: int = ALL_IMAGES
    # A run whose student has had no page open this long is stopped (and kept): a closed
    # laptop lid must not hold a training slot for the rest of the lesson.
    abandon_minutes: int = 2
    max_runs_per_student: int = 30  # The oldest ended runs beyond this are deleted.
    run_retention_days: int = 30  # Ended runs older than this are deleted.
    # An embedded training worker exits after this long without work, handing back its
    # memory (about 800 MB with TensorFlow); the next run starts a new one.
    worker_idle_minutes: int = 10
    # Runs waiting to train, server-wide (every app server of one store shares the queue):
    # beyond it a new run is refused with "the lab is busy, try again in a minute", so a
    # public demo's queue cannot be filled by new links faster than it trains. A class of 30
    # racing four racers each fits under the default.
    max_queued: int = 200

    @classmethod
    def read(cls, *sources: Mapping[str, object]) -> tuple[Limits, list[str]]:
        """Limits from `AE_<FIELD>` (`AE_MAX_TRAININGS`, `AE_ABANDON_MINUTES`, ...) in the
        first source that has each; returns the limits and a message per ignored value."""
        values, problems = {}, []
        for item in fields(cls):
            key = f"AE_{item.name.upper()}"
            raw = next((source[key] for source in sources if key in source), None)
            if raw is None:
                continue
            try:
                number = int(str(raw).strip())
            except ValueError:
                number = 0
            if number < 1:
                problems.append(f"{key}={raw!r} is not a positive whole number; using the default.")
                continue
            values[item.name] = number
        limits = cls(**values)
        # Above the page's own ranges a limit changes nothing; clamp so the UI stays simple.
        limits = replace(
            limits,
            max_epochs=min(limits.max_epochs, MOST_EPOCHS),
            max_subset=min(max(limits.max_subset, FEWEST_IMAGES), ALL_IMAGES),
        )
        return limits, problems
