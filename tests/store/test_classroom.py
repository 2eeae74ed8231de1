"""Classes: keys and codes, locks and limits enforced on the server, challenges, the board and
the CSV, against SQLite and a real PostgreSQL server (the `store` fixture of test_store)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import sqlalchemy as sa

from core.lab import classroom
from core.lab.classroom import Challenge, ClassError, Setup
from core.lab.runs import start_run
from core.ml import choices
from core.store import Store, hash_token

LOCKED = Setup(
    pages=("train", "draw"),
    variants=("vanilla", "conv"),
    locks={"vanilla": {"epochs": 2, "code_size": 8}},
    max_epochs=10,
    max_subset=1000,
)


def finished(
    store, student: int, variant="vanilla", values=None, metrics=None, dataset="mnist"
) -> int:
    """A finished run of `student`, started through the class rules, as a worker ends it."""
    run_id = start_run(store, student, variant, values or {}, dataset=dataset)
    store.claim(run_id, "test:0")
    run = store.run(run_id)
    store.add_epoch(
        run_id,
        run.epochs_total,
        {"loss": 0.2},
        np.full((8, 28, 28, 1), 0.5),
        [np.zeros(3)],
        epochs_done=run.epochs_total,
    )
    store.finish(run_id, "finished", metrics=metrics or {"bce": 0.2, "mse": 0.05})
    return run_id


def test_keys_are_long_random_and_only_their_hashes_are_stored(store):
    class_id, key = classroom.create_class(store, "Lesson 3")
    _, other = classroom.create_class(store, "Lesson 3")
    code = classroom.class_code(key)
    assert len(key) >= 22 and key != other  # 24 random bytes: 192 bits (the issue: >= 128).
    assert len(code) == classroom.CODE_CHARS and code not in key
    with store.engine.connect() as connection:
        row = connection.execute(sa.text("select * from classes where id = :id"), {"id": class_id})
        stored = " ".join(str(value) for value in row.one())
    assert key not in stored and code not in stored
    assert hash_token(key) in stored and hash_token(code) in stored
    assert classroom.teacher_class(store, key).id == class_id
    assert classroom.teacher_class(store, other).id != class_id


def test_a_class_code_or_a_student_link_opens_no_teacher_action(store):
    class_id, key = classroom.create_class(store, "Lesson 3")
    _, other_key = classroom.create_class(store, "Another lesson")
    code = classroom.class_code(key)
    student, token = classroom.join(store, code)
    challenge = classroom.add_challenge(store, key, Challenge("Best"))
    tweaked = key[:-1] + ("A" if key[-1] != "A" else "B")
    for wrong in (code, token, "", tweaked):
        assert classroom.teacher_class(store, wrong) is None
        for action, args in (
            (classroom.save_setup, (LOCKED,)),
            (classroom.set_paused, (True,)),
            (classroom.remove_challenge, (challenge,)),
            (classroom.add_challenge, (Challenge("Mine"),)),
            (classroom.runs_csv, ()),
        ):
            with pytest.raises(ClassError, match="teacher link is not valid"):
                action(store, wrong, *args)
    # Another class's key acts on that class only.
    with pytest.raises(ClassError):
        classroom.remove_challenge(store, other_key, challenge)
    classroom.set_paused(store, other_key, True)
    room = store.class_row(class_id)
    assert not room.paused and room.setup == Setup().to_json()
    assert [c.id for c in classroom.class_challenges(store, class_id)] == [challenge]
    assert store.member(student)[0].id == class_id
    assert classroom.join(store, key) is None  # The teacher key is not a class code either.
    assert classroom.join(store, "nope") is None


def test_locks_and_limits_hold_whatever_the_browser_sends(store):
    _, key = classroom.create_class(store, "Lesson 3")
    classroom.save_setup(store, key, LOCKED)
    student, _ = classroom.join(store, classroom.class_code(key))
    forged = {"epochs": 50, "code_size": 256, "subset": 55000, "learning_rate": 10.0}
    run = store.run(start_run(store, student, "vanilla", forged))
    values = choices.values_of(run.settings)
    assert values["epochs"] == 2 and values["code_size"] == 8  # Locked: the teacher's values.
    assert values["subset"] == 1000  # Over the class limit: the limit.
    assert values["learning_rate"] == 10.0  # Not locked: the student's choice.
    assert run.epochs_total == 2 and run.class_id == store.member(student)[0].id
    store.request_stop(run.id, student)
    with pytest.raises(ClassError, match="not part of this lesson"):
        start_run(store, student, "vae", {})
    with pytest.raises(ClassError, match="Learning rate"):
        start_run(store, student, "conv", {"learning_rate": 0.123})
    # A student outside any class gets the server's limits only.
    loner, _ = store.new_student()
    run = store.run(start_run(store, loner, "vanilla", forged, max_subset=2000))
    assert choices.values_of(run.settings)["code_size"] == 256
    assert run.settings["train"]["subset"] == 2000 and run.class_id is None


def test_a_paused_class_starts_no_run_and_resumes(store):
    _, key = classroom.create_class(store, "Lesson 3")
    student, _ = classroom.join(store, classroom.class_code(key))
    classroom.set_paused(store, key, True)
    with pytest.raises(ClassError, match="paused"):
        start_run(store, student, "vanilla", {})
    assert store.runs(student) == []
    classroom.set_paused(store, key, False)
    assert start_run(store, student, "vanilla", {})


def test_setups_and_challenges_are_checked_when_saved():
    with pytest.raises(ClassError):
        Setup.from_json({"locks": {"vanilla": {"epochs": 51}}})
    with pytest.raises(ClassError):
        Setup.from_json({"locks": {"vanilla": {"rho": 0.1}}})  # Vanilla has no ρ.
    with pytest.raises(ClassError):
        Setup.from_json({"variants": []})
    assert Setup.from_json({"pages": ["train", "admin"]}).pages == ("train",)
    with pytest.raises(ClassError):
        Challenge.from_json({"title": "x", "metric": "accuracy"})
    with pytest.raises(ClassError):
        Challenge.from_json({"title": "x", "metric": "negative_elbo", "variants": ["vanilla"]})
    assert Challenge.from_json({"title": "x", "metric": "negative_elbo"}).variants == ("vae",)
    with pytest.raises(ClassError):
        Challenge.from_json({"title": "x", "constraints": {"code_size": {"max": "8"}}})
    with pytest.raises(ClassError):
        Challenge.from_json({"title": "x", "metric": "psnr_denoised", "noise_kind": "fire"})
    small = Challenge.from_json(
        {
            "title": "Small",
            "variants": ["vanilla", "deep"],
            "constraints": {"code_size": {"max": 8}},
        }
    )
    assert small.meets("vanilla", {"code_size": 8, "epochs": 3})
    assert not small.meets("vanilla", {"code_size": 16})
    assert not small.meets("conv", {"code_size": 4})  # Not an allowed variant.
    assert not small.meets("deep", {})  # No code size: cannot show it meets the rule.
    assert small.rules_text() == (
        "lowest Test BCE · on MNIST digits · Vanilla or Deep · code size at most 8"
    )
    # A challenge ranks runs on one dataset: a Fashion-MNIST BCE (~0.27) is not comparable
    # with an MNIST one (~0.08). Stored challenges from before the field are MNIST's.
    assert not small.meets("vanilla", {"code_size": 8}, "fashion")
    garments = Challenge.from_json({"title": "G", "dataset": "fashion"})
    assert garments.meets("vanilla", {}, "fashion") and not garments.meets("vanilla", {})
    assert Challenge.from_json(garments.to_json()).dataset == "fashion"
    assert "on Fashion-MNIST" in garments.rules_text()
    with pytest.raises(ClassError, match="unknown dataset"):
        Challenge.from_json({"title": "x", "dataset": "cifar"})


def test_a_class_language_round_trips_is_checked_and_goes_in_both_links():
    from urllib.parse import parse_qs, urlsplit

    assert Setup().language is None and Setup.from_json({}).language is None  # Each student's.
    for language in ("zh", "en", None):
        setup = Setup(pages=("train",), language=language)
        assert Setup.from_json(setup.to_json()) == setup
        assert Setup.from_json(setup.to_json()).language == language
    for unknown in ("fr", "zh-CN", "", 1):
        with pytest.raises(ClassError, match="unknown language"):
            Setup.from_json({"language": unknown})
    # A change of it is said after a save, each language named in its own.
    assert classroom.setup_changes(Setup(), Setup(language="zh")) == [
        "language of the class's pages: 中文"
    ]
    assert classroom.setup_changes(Setup(language="zh"), Setup(language="en")) == [
        "language of the class's pages: English"
    ]
    assert classroom.setup_changes(Setup(language="en"), Setup()) == [
        "language of the class's pages: each student's own"
    ]

    def asked(link: str) -> dict:
        return parse_qs(urlsplit(link).query)

    student, teacher = classroom.links("http://host:8501/", "k" * 32, "zh")
    assert asked(student)["lang"] == ["zh"] and asked(teacher)["lang"] == ["zh"]
    assert asked(student)["class"] == [classroom.class_code("k" * 32)]
    assert all("lang" not in asked(link) for link in classroom.links("http://host", "k" * 32))


def test_nicknames_are_plain_single_lines():
    assert classroom.clean_text("  Ada\u202e\nLovelace\t\x00 ", 30) == "Ada Lovelace"
    assert classroom.clean_text("x" * 100, 30) == "x" * 30
    assert classroom.clean_text("<b>:red[me]</b>", 30) == "<b>:red[me]</b>"  # Escaped on show.


def test_board_ranks_each_students_best_run_and_leaves_off_who_opted_out(store):
    class_id, key = classroom.create_class(store, "Lesson 3")
    low = classroom.add_challenge(store, key, Challenge("Lowest BCE"))
    high = classroom.add_challenge(
        store, key, Challenge("Denoise", "psnr_denoised", noise_kind="gaussian", noise_level=0.5)
    )
    code = classroom.class_code(key)
    (ada, _), (bob, _), (cy, _) = (classroom.join(store, code) for _ in range(3))
    classroom.rename(store, ada, "Ada")
    scores = {ada: [(0.30, 10.0), (0.10, 12.0)], bob: [(0.20, 15.0)], cy: [(0.05, 20.0)]}
    for student, values in scores.items():
        for bce, psnr in values:
            run_id = finished(store, student)
            store.add_score(low, run_id, bce)
            store.add_score(high, run_id, psnr)
    classroom.set_on_board(store, cy, False)
    (first, lowest), (second, highest) = classroom.board(store, class_id)
    assert first.id == low and second.id == high
    assert [(e.rank, e.student_id, e.value) for e in lowest] == [(1, ada, 0.10), (2, bob, 0.20)]
    assert [(e.student_id, e.value) for e in highest] == [(bob, 15.0), (ada, 12.0)]
    assert lowest[0].nickname == "Ada"
    teacher = classroom.board(store, class_id, everyone=True)
    assert [e.student_id for e in teacher[0][1]] == [cy, ada, bob]
    shown = store.final_samples([e.run.id for e in lowest])
    assert set(shown) == {e.run.id for e in lowest}
    assert shown[lowest[0].run.id].shape == (8, 28, 28, 1)


def test_a_challenge_scores_only_the_runs_on_its_dataset(store):
    class_id, key = classroom.create_class(store, "Lesson 3")
    digits = classroom.add_challenge(store, key, Challenge("Digits"))
    garments = classroom.add_challenge(store, key, Challenge("Garments", dataset="fashion"))
    student, _ = classroom.join(store, classroom.class_code(key))
    on_mnist = finished(store, student, metrics={"bce": 0.09})
    on_fashion = finished(store, student, metrics={"bce": 0.27}, dataset="fashion")
    for run_id in (on_mnist, on_fashion):
        run = store.run(run_id)
        assert classroom.score_run(store, run, run.metrics, None, None) == 1
    by_id = {challenge.id: entries for challenge, entries in classroom.board(store, class_id)}
    assert [(e.run.id, e.value) for e in by_id[digits]] == [(on_mnist, 0.09)]
    assert [(e.run.id, e.value) for e in by_id[garments]] == [(on_fashion, 0.27)]


def test_a_challenge_on_the_classs_upload_ranks_the_runs_trained_on_it(store):
    """A teacher's upload can be a challenge's images: only runs on it are scored for it, and
    a student's run on it starts through the class's rules like any other."""
    from core.ml import data
    from tests.support.images import prepared_upload

    class_id, key = classroom.create_class(store, "Lesson 3")
    upload = data.own_name(classroom.add_class_dataset(store, key, "shapes", prepared_upload()))
    data.use_store(store)
    try:
        shapes = classroom.add_challenge(store, key, Challenge("Shapes", dataset=upload))
        student, _ = classroom.join(store, classroom.class_code(key))
        on_upload = finished(store, student, metrics={"bce": 0.21}, dataset=upload)
        on_mnist = finished(store, student, metrics={"bce": 0.09})
        assert classroom.score_run(store, store.run(on_upload), {"bce": 0.21}, None, None) == 1
        assert classroom.score_run(store, store.run(on_mnist), {"bce": 0.09}, None, None) == 0
        by_id = {challenge.id: entries for challenge, entries in classroom.board(store, class_id)}
        assert [(e.run.id, e.value) for e in by_id[shapes]] == [(on_upload, 0.21)]
        rules = next(c for c in classroom.class_challenges(store, class_id) if c.id == shapes)
        assert "on shapes" in rules.rules_text()  # Its name; the board escapes it.
    finally:
        data.use_store(None)


def test_csv_has_a_row_per_run_with_each_challenges_metric(store):
    _, key = classroom.create_class(store, "Lesson 3")
    best = classroom.add_challenge(store, key, Challenge("Best"))
    student, _ = classroom.join(store, classroom.class_code(key))
    classroom.rename(store, student, "=HYPERLINK(1)")
    scored = finished(store, student, metrics={"bce": 0.12, "mse": 0.03})
    store.add_score(best, scored, 0.12)
    unscored = finished(store, student, values={"learning_rate": 10.0})
    rows = list(csv.DictReader(io.StringIO(classroom.runs_csv(store, key))))
    assert [int(row["run_id"]) for row in rows] == [unscored, scored]
    by_id = {int(row["run_id"]): row for row in rows}
    assert by_id[scored]["challenge 1: Best"] == "0.12"
    assert by_id[unscored]["challenge 1: Best"] == ""
    assert by_id[scored]["nickname"] == "'=HYPERLINK(1)"  # Not a formula in a spreadsheet.
    assert by_id[scored]["variant"] == "vanilla" and by_id[scored]["status"] == "finished"
    assert '"learning_rate": 10.0' in by_id[unscored]["settings"]
    assert by_id[scored]["test_bce"] == "0.12"


def test_stuck_students_are_the_failing_and_the_slow():
    from core.store import Member, Run

    now = 10_000.0
    members = [
        Member(i, f"S{i}", True, now - minutes * 60, now)
        for i, minutes in ((1, 30), (2, 30), (3, 2), (4, 30))
    ]

    def run(run_id, student, status):
        fields = dict.fromkeys(Run.__dataclass_fields__)
        fields.update(id=run_id, student_id=student, status=status, settings={})
        return Run(**fields)

    runs = [
        run(4, 1, "diverged"),
        run(3, 1, "finished"),
        run(2, 2, "queued"),
        run(1, 4, "finished"),
    ]
    flagged = {member.id: why for member, why in classroom.stuck(members, runs, 10, now)}
    assert flagged == {1: "latest run 4 diverged", 2: "nothing finished after 30 min"}


def test_the_worker_scores_psnr_after_denoising_like_numpy(tmp_path):
    """The challenge's PSNR is the worker's measurement on corrupted test images; checked
    here against a computation written out with numpy."""
    from core.ml import noise, variants
    from core.ml.evaluate import NOISE_SEED

    rng = np.random.default_rng(0)
    x = (rng.random((50, 28, 28, 1)) > 0.7).astype(np.float32)
    model = variants.build("vanilla", variants.make_config("vanilla", code_size=8))
    challenge = Challenge("D", "psnr_denoised", noise_kind="masking", noise_level=0.3)
    value = classroom.challenge_value(challenge, {}, model, x)
    noisy = noise.corrupt(x, "masking", 0.3, NOISE_SEED)
    out = np.asarray(model(noisy, training=False), np.float64)
    mse = ((out - x) ** 2).reshape(50, -1).mean(axis=1)
    assert value == pytest.approx(float(np.mean(10 * np.log10(1 / mse))), rel=1e-6)
    assert classroom.challenge_value(Challenge("B"), {"bce": 0.11}, model, x) == 0.11
    assert classroom.challenge_value(Challenge("B"), {"bce": float("nan")}, model, x) is None


def test_a_challenge_added_later_scores_the_runs_that_finished_before(lab_store, stored_run):
    """core.cluster.tasks.score_challenge, the task a training worker runs when a teacher adds
    one."""
    from core.cluster import tasks
    from core.ml import variants

    class_id, key = classroom.create_class(lab_store, "Lesson 3")
    student, _ = classroom.join(lab_store, classroom.class_code(key))
    model = variants.build("vanilla", variants.make_config("vanilla", code_size=8))
    config = variants.make_config("vanilla", code_size=8)
    _, small = stored_run("vanilla", model, config, student=(student, None))
    stored_run(  # Code size 32: outside the challenge's rules.
        "vanilla", model, variants.make_config("vanilla"), student=(student, None)
    )
    with lab_store.engine.begin() as connection:  # Runs started in the class.
        connection.execute(
            sa.text("update runs set class_id = :c where student_id = :s"),
            {"c": class_id, "s": student},
        )
    challenge = classroom.add_challenge(
        lab_store,
        key,
        Challenge(
            "Small",
            constraints={"code_size": {"max": 8}},
            metric="psnr_denoised",
            noise_kind="gaussian",
            noise_level=0.5,
        ),
    )
    assert tasks.score_challenge(challenge, lab_store.display_url) == 1
    scored = lab_store.scores(class_id)
    assert [(c, r) for c, r, _ in scored] == [(challenge, small.id)]
    assert 0 < scored[0][2] < 40  # dB on the real test set.
    assert tasks.score_challenge(challenge, lab_store.display_url) == 0  # Scored once.


def test_a_store_of_0001_upgrades_and_keeps_its_rows(tmp_path):
    from tests.support.stores import store_at_revision

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    with store_at_revision(tmp_path / "old.sqlite", "0001") as connection:
        connection.execute(
            sa.text(
                "insert into students (token_hash, created_at, last_seen_at) values ('h', 1, 1)"
            )
        )
    upgraded = Store(url)
    run_id = upgraded.create_run(1, "vanilla", {"train": {}, "model": {}}, 3)
    room, member = upgraded.member(1)
    assert room is None and member.on_board and upgraded.run(run_id).class_id is None
    upgraded.close()
