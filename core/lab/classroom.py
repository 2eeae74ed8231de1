"""A class: a teacher's lesson setup, its students, challenges and the board.

A teacher creates a class and gets two links. The teacher link carries a random key (192 bits)
and opens the teacher's view; the student link carries the class code, which lets a visitor
join (and nothing else). The store keeps only SHA-256 hashes of both; the code is derived from
the key with HMAC, so the teacher's view can show the student link again from its own URL.

Every teacher action here takes the teacher key and checks it in the store, and every run a
class student starts goes through `start_run`, which applies the class's locks and limits on the
server: whatever a browser sends (a forged widget value, a URL parameter), a locked setting
trains with the teacher's value.

    python -m core.classroom create "Lesson 3" --base-url http://host:8501
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import hmac
import io
import json
import math
import re
import secrets
import sys
import time
import unicodedata
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from core.ml import choices, data, variants
from core.ml.choices import MOST_EPOCHS
from core.ml.data import ALL_IMAGES
from core.store import ClassRow, Member, Refused, Run, Store, StoreError, hash_token

KEY_BYTES = 24  # 192 bits from `secrets`; the issue asks for at least 128.
CODE_CHARS = 16  # 96 bits of the HMAC, in URL-safe base64.
# Home and Class are always shown.
PAGES = ("train", "race", "draw", "latent", "inside", "compare")
PAGE_TITLES = {
    "train": "Train",
    "race": "Race",
    "draw": "Draw",
    "latent": "Latent space",
    "inside": "Inside",
    "compare": "Compare",
}
NICKNAME_CHARS = 30
STUCK_MINUTES = 10  # Nothing finished this long after joining: the teacher sees it.
ADJECTIVES = [
    "Brave",
    "Calm",
    "Clever",
    "Curious",
    "Eager",
    "Gentle",
    "Happy",
    "Keen",
    "Lively",
    "Lucky",
    "Merry",
    "Nimble",
    "Quick",
    "Quiet",
    "Sharp",
    "Sunny",
    "Swift",
    "Bold",
    "Bright",
    "Cosy",
]
ANIMALS = [
    "Otter",
    "Falcon",
    "Badger",
    "Heron",
    "Lynx",
    "Panda",
    "Koala",
    "Gecko",
    "Puffin",
    "Beaver",
    "Owl",
    "Fox",
    "Hare",
    "Seal",
    "Wren",
    "Bison",
    "Crane",
    "Dolphin",
    "Moose",
    "Robin",
]


class ClassError(Refused):
    """A class action refused: wrong key or code, a paused class, a setting not allowed, a
    challenge already removed. A message for the one user who asked, never a failure of the
    store (that would turn training off for the whole server)."""


# Setup -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What a class's students see and may choose."""

    pages: tuple[str, ...] = PAGES
    variants: tuple[str, ...] = field(default_factory=lambda: tuple(variants.names()))
    locks: dict = field(default_factory=dict)  # {variant: {setting: value}}
    max_epochs: int = MOST_EPOCHS
    max_subset: int = ALL_IMAGES

    def to_json(self) -> dict:
        return {
            "pages": list(self.pages),
            "variants": list(self.variants),
            "locks": {name: dict(values) for name, values in self.locks.items()},
            "max_epochs": self.max_epochs,
            "max_subset": self.max_subset,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> Setup:
        """A checked setup: unknown pages, variants, settings or values are refused."""
        data = data or {}
        pages = tuple(page for page in PAGES if page in data.get("pages", PAGES))
        known = variants.names()
        names = tuple(name for name in known if name in data.get("variants", known))
        if not names:
            raise ClassError("a class needs at least one variant")
        locks = {}
        for name, values in (data.get("locks") or {}).items():
            if name not in known:
                raise ClassError(f"unknown variant {name!r}")
            locks[name] = {key: _choice(name, key, value) for key, value in values.items()}
        max_epochs = int(data.get("max_epochs", MOST_EPOCHS))
        max_subset = int(data.get("max_subset", ALL_IMAGES))
        if not 1 <= max_epochs <= MOST_EPOCHS or max_subset not in choices.SUBSETS:
            raise ClassError("class limits out of range")
        return cls(pages, names, locks, max_epochs, max_subset)

    def locked(self, variant: str) -> dict:
        return dict(self.locks.get(variant, {}))

    def choices(self, variant: str, name: str) -> tuple:
        """The values of a setting a student of this class may pick (the class limits)."""
        offered = choices.setting(variant, name).choices
        if name == "epochs":
            return tuple(value for value in offered if value <= self.max_epochs)
        if name == "subset":
            return tuple(value for value in offered if value <= self.max_subset)
        return offered

    def apply(self, variant: str, values: dict) -> dict:
        """The values a run of this class trains with: locks win, limits clamp, and a value
        the page does not offer is refused."""
        if variant not in self.variants:
            raise ClassError(f"{variants.get(variant).title} is not part of this lesson")
        chosen = {**choices.defaults(variant), **values, **self.locked(variant)}
        result = {}
        for item in choices.for_variant(variant):
            value = _choice(variant, item.name, chosen[item.name])
            allowed = self.choices(variant, item.name)
            if value not in allowed:  # Over a class limit: the largest value allowed.
                value = allowed[-1]
            result[item.name] = value
        return result


def _choice(variant: str, name: str, value):
    """`value` as one of the setting's own choices, or ClassError."""
    try:
        item = choices.setting(variant, name)
    except KeyError as error:
        raise ClassError(str(error.args[0])) from None
    for choice in item.choices:
        if isinstance(choice, str) and value == choice:
            return choice
        if (
            not isinstance(choice, str)
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isclose(float(value), float(choice), rel_tol=1e-9, abs_tol=1e-12)
        ):
            return choice
    raise ClassError(f"{item.label} cannot be {value!r}")


# Challenges --------------------------------------------------------------------------------

# name: (label, lower is better, variants it applies to or None for any)
METRICS = {
    "bce": ("Test BCE", True, None),
    "mse": ("Test MSE", True, None),
    "negative_elbo": ("Test −ELBO (nats)", True, ("vae",)),
    "psnr_denoised": ("PSNR after denoising (dB)", False, None),
}


@dataclass(frozen=True)
class Challenge:
    title: str
    metric: str = "bce"
    variants: tuple[str, ...] = ()  # Empty: any variant of the class.
    constraints: dict = field(default_factory=dict)  # {setting: {"max": v} or {"min": v}}
    noise_kind: str | None = None  # For psnr_denoised: the corruption of the test images.
    noise_level: float | None = None
    id: int | None = None

    @property
    def lower_is_better(self) -> bool:
        return METRICS[self.metric][1]

    @property
    def metric_label(self) -> str:
        label = METRICS[self.metric][0]
        if self.metric == "psnr_denoised":
            label += f", {self.noise_kind.replace('_', ' ')} noise {self.noise_level:g}"
        return label

    def to_json(self) -> dict:
        return {
            "title": self.title,
            "metric": self.metric,
            "variants": list(self.variants),
            "constraints": self.constraints,
            "noise_kind": self.noise_kind,
            "noise_level": self.noise_level,
        }

    @classmethod
    def from_json(cls, data: dict, challenge_id: int | None = None) -> Challenge:
        """A checked challenge: a metric it knows, variants and constraints that exist."""
        title = clean_text(str(data.get("title", "")), 80) or "Challenge"
        metric = data.get("metric", "bce")
        if metric not in METRICS:
            raise ClassError(f"unknown metric {metric!r}")
        known = variants.names()
        names = tuple(name for name in known if name in (data.get("variants") or ()))
        allowed = METRICS[metric][2]
        if allowed is not None:
            names = tuple(name for name in (names or allowed) if name in allowed)
            if not names:
                raise ClassError(f"{METRICS[metric][0]} needs one of: {', '.join(allowed)}")
        constraints = {}
        for name, bounds in (data.get("constraints") or {}).items():
            kept = {}
            for side in ("min", "max"):
                if bounds.get(side) is not None:
                    value = bounds[side]
                    if not isinstance(value, (int, float)) or isinstance(value, bool):
                        raise ClassError(f"a bound on {name} must be a number")
                    kept[side] = value
            if name not in _numeric_settings():
                raise ClassError(f"no numeric setting {name!r}")
            if kept:
                constraints[name] = kept
        noise_kind = noise_level = None
        if metric == "psnr_denoised":
            from core.ml import noise

            noise_kind = data.get("noise_kind") or "gaussian"
            noise_level = float(data.get("noise_level", 0.5))
            if noise_kind not in noise.KINDS or not 0.0 < noise_level <= 1.0:
                raise ClassError("choose a noise kind and a level in (0, 1]")
        return cls(title, metric, names, constraints, noise_kind, noise_level, challenge_id)

    def meets(self, variant: str, values: dict) -> bool:
        """True when a run of `variant` with these settings may enter the challenge."""
        if self.variants and variant not in self.variants:
            return False
        if METRICS[self.metric][2] and variant not in METRICS[self.metric][2]:
            return False
        for name, bounds in self.constraints.items():
            if name not in values:
                return False  # A constraint on code size: a variant without one cannot enter.
            if "max" in bounds and values[name] > bounds["max"] * (1 + 1e-9):
                return False
            if "min" in bounds and values[name] < bounds["min"] * (1 - 1e-9):
                return False
        return True

    def rules_text(self) -> str:
        """The challenge in one line: what is ranked and what is allowed."""
        parts = [
            ("lowest " if self.lower_is_better else "highest ") + self.metric_label,
            " or ".join(variants.get(name).title for name in self.variants)
            if self.variants
            else "any variant",
        ]
        labels = {item.name: item.label for item in _all_settings()}
        for name, bounds in self.constraints.items():
            label = labels.get(name, name).lower()
            if "max" in bounds:
                parts.append(f"{label} at most {bounds['max']:g}")
            if "min" in bounds:
                parts.append(f"{label} at least {bounds['min']:g}")
        return " · ".join(parts)


def _all_settings():
    seen = {}
    for name in variants.names():
        for item in choices.for_variant(name):
            seen.setdefault(item.name, item)
    return list(seen.values())


def _numeric_settings() -> set[str]:
    return {item.name for item in _all_settings() if item.numeric}


def challenge_value(challenge: Challenge, metrics: dict, model, x_test) -> float | None:
    """The challenge's metric of a trained model on the 10,000 test images (in the worker).

    BCE, MSE and the VAE's negative ELBO are the run's own test metrics (`core.ml.evaluate`);
    PSNR after denoising corrupts the test set with the challenge's noise (a fixed seed, the
    same for every run) and compares the model's output with the clean images.
    """
    if challenge.metric == "psnr_denoised":
        from core.ml import metrics as measures
        from core.ml import noise
        from core.ml.evaluate import NOISE_SEED

        noisy = noise.corrupt(x_test, challenge.noise_kind, challenge.noise_level, NOISE_SEED)
        value = float(measures.psnr(x_test, measures.reconstruct(model, noisy)).mean())
    else:
        value = (metrics or {}).get(challenge.metric)
    return float(value) if value is not None and math.isfinite(value) else None


# Keys and codes ----------------------------------------------------------------------------


def class_code(teacher_key: str) -> str:
    """The class code that goes with a teacher key (one way: the code does not give the key)."""
    digest = hmac.new(teacher_key.encode(), b"autoencoder-lab class code", hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode()[:CODE_CHARS]


def links(base_url: str, teacher_key: str) -> tuple[str, str]:
    """(student link, teacher link) on the app at `base_url`."""
    base = base_url.rstrip("/")
    return (
        f"{base}/?{urlencode({'class': class_code(teacher_key)})}",
        f"{base}/class?{urlencode({'teacher': teacher_key})}",
    )


def clean_text(text: str, limit: int) -> str:
    """User text as one plain line: no control or format characters, spaces squeezed."""
    kept = "".join(
        " " if unicodedata.category(char)[0] in "CZ" else char
        for char in unicodedata.normalize("NFC", text)
    )
    return re.sub(r"\s+", " ", kept).strip()[:limit]


# Teacher actions: each needs the key -------------------------------------------------------


def create_class(store: Store, name: str, setup: Setup | None = None) -> tuple[int, str]:
    """A new class; returns (class id, teacher key). The key is shown once, never stored."""
    name = clean_text(name, 120)
    if not name:
        raise ClassError("give the class a name")
    key = secrets.token_urlsafe(KEY_BYTES)
    class_id = store.create_class(
        name, hash_token(key), hash_token(class_code(key)), (setup or Setup()).to_json()
    )
    return class_id, key


def teacher_class(store: Store, key: str | None) -> ClassRow | None:
    """The class this teacher key opens, or None for a missing, malformed or wrong key."""
    if not key or len(key) > 128:
        return None
    return store.find_class(teacher_hash=hash_token(key))


def _require(changed: bool) -> None:
    if not changed:
        raise ClassError("this teacher link is not valid")


def save_setup(store: Store, key: str, setup: Setup) -> None:
    _require(store.update_class(hash_token(key), setup=Setup.from_json(setup.to_json()).to_json()))


def set_paused(store: Store, key: str, paused: bool) -> None:
    _require(store.update_class(hash_token(key), paused=bool(paused)))


def add_challenge(store: Store, key: str, challenge: Challenge) -> int:
    rules = Challenge.from_json(challenge.to_json()).to_json()
    found = store.add_challenge(hash_token(key), rules)
    _require(found is not None)
    return found


def remove_challenge(store: Store, key: str, challenge_id: int) -> None:
    """Remove a challenge of the teacher's class; ClassError for a wrong key or a challenge
    that is gone already (a second tab, two clicks at once)."""
    if store.remove_challenge(hash_token(key), challenge_id):
        return
    _require(teacher_class(store, key) is not None)
    raise ClassError("that challenge was removed already")


def challenges(store: Store, class_id: int) -> list[Challenge]:
    return [Challenge.from_json(rules, found) for found, rules in store.challenges(class_id)]


# Students ----------------------------------------------------------------------------------


def join(store: Store, code: str | None) -> tuple[int, str] | None:
    """A new student of the class with this code: (student id, personal link token), or None
    for an unknown code. The code grants nothing but this."""
    if not code or len(code) > 64:
        return None
    found = store.find_class(code_hash=hash_token(code))
    if found is None:
        return None
    return store.new_student(found.id, friendly_nickname(store.nicknames(found.id)))


def friendly_nickname(taken: set[str]) -> str:
    """An adjective and an animal no one in the class has yet (a number if all are taken)."""
    for _ in range(50):
        name = f"{secrets.choice(ADJECTIVES)} {secrets.choice(ANIMALS)}"
        if name not in taken:
            return name
    return f"{secrets.choice(ADJECTIVES)} {secrets.choice(ANIMALS)} {secrets.randbelow(1000)}"


def rename(store: Store, student_id: int, nickname: str) -> str:
    """Set a student's nickname (plain text, trimmed); returns what was stored."""
    cleaned = clean_text(nickname, NICKNAME_CHARS)
    if not cleaned:
        raise ClassError("a nickname needs at least one visible character")
    store.update_member(student_id, nickname=cleaned)
    return cleaned


def set_on_board(store: Store, student_id: int, shown: bool) -> None:
    store.update_member(student_id, on_board=bool(shown))


def student_class(store: Store, student_id: int) -> tuple[ClassRow | None, Member | None]:
    return store.member(student_id)


def _lesson_specs(
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
    from core.ml.choices import settings_for

    room, _ = store.member(student_id)
    if room is not None and room.paused:
        raise ClassError("your teacher has paused new trainings for the class")
    setup = Setup.from_json(room.setup) if room else Setup()
    setup = replace(
        setup,
        max_epochs=min(setup.max_epochs, max_epochs),
        max_subset=min(setup.max_subset, max_subset),
    )
    specs = []
    for variant, values in racers:
        chosen = setup.apply(variant, values)
        train, model = choices.configs(variant, chosen, data.get(dataset).name)
        specs.append((variant, settings_for(train, model), train.epochs))
    return room, specs


def start_run(
    store: Store,
    student_id: int,
    variant: str,
    values: dict,
    *,
    dataset: str = "mnist",
    max_epochs: int = MOST_EPOCHS,
    max_subset: int = ALL_IMAGES,
    max_runs: int = 30,
    max_queued: int | None = None,
) -> int:
    """Queue a run for a student: in a class, with its locks and limits applied and refused
    while the teacher has paused trainings; the server's limits apply to everyone (LabBusy
    once `max_queued` runs wait)."""
    room, specs = _lesson_specs(
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


MOST_RACERS = 4


def start_race(
    store: Store,
    student_id: int,
    racers: list[tuple[str, dict]],
    *,
    dataset: str = "mnist",
    max_epochs: int = MOST_EPOCHS,
    max_subset: int = ALL_IMAGES,
    max_runs: int = 30,
    max_queued: int | None = None,
) -> list[int]:
    """Queue two to four runs that race: (variant, values) each, trained on the same images
    with the same seed (the subset is drawn from the seed, so equal seeds and sizes mean equal
    images), every one with the lesson's locks and the limits applied as a single run would
    be. They are ordinary runs, tagged with the race (the first run's id) in their settings.
    Raises Busy while the student has a run queued or training."""
    if not 2 <= len(racers) <= MOST_RACERS:
        raise ClassError(f"a race needs 2 to {MOST_RACERS} racers, got {len(racers)}")
    room, specs = _lesson_specs(store, student_id, racers, dataset, max_epochs, max_subset)
    return store.create_runs(
        student_id,
        specs,
        max_runs=max_runs,
        class_id=room.id if room else None,
        race=True,
        max_queued=max_queued,
    )


# The board ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    rank: int
    student_id: int
    nickname: str
    run: Run
    value: float


def board(
    store: Store, class_id: int, everyone: bool = False
) -> list[tuple[Challenge, list[Entry]]]:
    """Per challenge, each student's best scored run, ranked (ties: the earlier run first).

    Students who opted out are left off unless `everyone` (the teacher's view)."""
    found = challenges(store, class_id)
    if not found:
        return []
    members = {member.id: member for member in store.members(class_id)}
    runs = {run.id: run for run in store.class_runs(class_id)}
    by_challenge: dict[int, dict[int, tuple[float, Run]]] = {}
    sign = {challenge.id: 1 if challenge.lower_is_better else -1 for challenge in found}
    for challenge_id, run_id, value in store.scores(class_id):
        run = runs.get(run_id)
        member = members.get(run.student_id) if run else None
        if value is None or member is None or challenge_id not in sign:
            continue
        if not (everyone or member.on_board):
            continue
        best = by_challenge.setdefault(challenge_id, {})
        key = (sign[challenge_id] * value, run.finished_at or 0)
        known = best.get(member.id)
        if known is None or key < (sign[challenge_id] * known[0], known[1].finished_at or 0):
            best[member.id] = (value, run)
    result = []
    for challenge in found:
        best = by_challenge.get(challenge.id, {})
        ordered = sorted(
            best.items(),
            key=lambda item: (sign[challenge.id] * item[1][0], item[1][1].finished_at or 0),
        )
        entries = [
            Entry(rank, student_id, members[student_id].nickname, run, value)
            for rank, (student_id, (value, run)) in enumerate(ordered, start=1)
        ]
        result.append((challenge, entries))
    return result


def stuck(
    members: list[Member], runs: list[Run], minutes: float = STUCK_MINUTES, now: float | None = None
) -> list[tuple[Member, str]]:
    """Students who may need help: their latest run diverged or failed, or nothing of theirs
    has finished `minutes` after they joined."""
    now = now or time.time()
    latest: dict[int, Run] = {}
    finished: set[int] = set()
    for run in runs:  # Newest first.
        latest.setdefault(run.student_id, run)
        if run.status == "finished":
            finished.add(run.student_id)
    found = []
    for member in members:
        run = latest.get(member.id)
        if run is not None and run.status in ("diverged", "failed"):
            found.append((member, f"latest run {run.id} {run.status}"))
        elif member.id not in finished and now - member.created_at > minutes * 60:
            waited = (now - member.created_at) / 60
            found.append((member, f"nothing finished after {waited:.0f} min"))
    return found


def runs_csv(store: Store, key: str) -> str:
    """Every run of the teacher's class as CSV, one row per run, with each challenge's
    metric (empty where the run did not enter)."""
    room = teacher_class(store, key)
    _require(room is not None)
    found = challenges(store, room.id)
    members = {member.id: member for member in store.members(room.id)}
    values = {(challenge, run): value for challenge, run, value in store.scores(room.id)}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "run_id",
            "nickname",
            "variant",
            "status",
            "epochs_done",
            "seconds",
            "settings",
            "test_bce",
            "test_mse",
            *[f"challenge {challenge.id}: {challenge.title}" for challenge in found],
        ]
    )
    for run in store.class_runs(room.id):
        member = members.get(run.student_id)
        metrics = run.metrics or {}
        writer.writerow(
            [
                run.id,
                _csv_safe(member.nickname if member else ""),
                run.variant,
                run.status,
                run.epochs_done,
                round(run.seconds, 1),
                json.dumps(choices.values_of(run.settings), sort_keys=True),
                metrics.get("bce", ""),
                metrics.get("mse", ""),
                *[
                    "" if values.get((c.id, run.id)) is None else values[(c.id, run.id)]
                    for c in found
                ],
            ]
        )
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """A nickname a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# The worker's side -------------------------------------------------------------------------


def score_run(store: Store, run: Run, metrics: dict, model, x_test) -> int:
    """Score a finished class run for every challenge whose rules it meets; returns how many."""
    if run.class_id is None:
        return 0
    values = choices.values_of(run.settings)
    count = 0
    for challenge in challenges(store, run.class_id):
        if challenge.meets(run.variant, values):
            store.add_score(
                challenge.id, run.id, challenge_value(challenge, metrics, model, x_test)
            )
            count += 1
    return count


# The terminal ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.classroom", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a class and print its two links")
    create.add_argument("name", help='the class\'s name, e.g. "Lesson 3"')
    create.add_argument(
        "--base-url",
        default="http://localhost:8501",
        help="the app's address as students reach it (default: %(default)s)",
    )
    options = parser.parse_args(argv)
    try:
        store = Store()
        _, key = create_class(store, options.name)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    student, teacher = links(options.base_url, key)
    print(f"student link: {student}")
    print(f"teacher link: {teacher}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
