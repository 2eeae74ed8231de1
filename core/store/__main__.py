"""What the run store holds, and pruning it.

    python -m core.store                 # the database, students, runs per status, sizes
    python -m core.store prune           # apply AE_MAX_RUNS_PER_STUDENT and AE_RUN_RETENTION_DAYS
                                         # (the days apply to uploaded datasets too)
    python -m core.store prune --days 7 --max-runs 10

The database is the app's: AE_DATABASE_URL, else the SQLite file in AE_DATA_DIR (or the user
data folder). Opening it applies any pending migration, as the app does at start.
"""

from __future__ import annotations

import argparse
import os
import sys

from core.config import Settings, secrets_entries
from core.store import Store, StoreError


def megabytes(count: int | None) -> str:
    return "unknown" if count is None else f"{count / 1e6:.2f} MB"


def report(store: Store) -> str:
    summary = store.summary()
    runs = summary["runs"]
    uploads, uploaded = store.dataset_totals()
    lines = [
        f"database: {summary['url']} ({megabytes(summary['database_bytes'])})",
        f"students: {summary['students']}",
        f"runs: {sum(runs.values())}"
        + (
            " (" + ", ".join(f"{n} {status}" for status, n in sorted(runs.items())) + ")"
            if runs
            else ""
        ),
        f"checkpoints: {megabytes(summary['bytes']['checkpoints'])}, "
        f"served models: {megabytes(summary['bytes']['bundles'])}, "
        f"samples: {megabytes(summary['bytes']['samples'])}, "
        f"loss chunks: {summary['loss_chunks']}",
        f"datasets of own images: {uploads} ({megabytes(uploaded)})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.store",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", choices=["info", "prune"], default="info")
    limits, problems = Settings.read(secrets_entries(), os.environ)
    parser.add_argument(
        "--days",
        type=float,
        default=limits.run_retention_days,
        help="delete ended runs older than this (default %(default)s)",
    )
    parser.add_argument(
        "--max-runs",
        type=int,
        default=limits.max_runs_per_student,
        help="keep at most this many ended runs per student (default %(default)s)",
    )
    args = parser.parse_args(argv)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    try:
        store = Store()
        if args.command == "prune":
            uploads = store.prune_datasets(args.days)  # Counted: prune deletes them too.
            deleted = store.prune(args.max_runs, args.days)
            print(
                f"pruned {deleted} run(s): older than {args.days:g} days or beyond "
                f"{args.max_runs} per student"
            )
            print(f"pruned {uploads} dataset(s) older than {args.days:g} days")
        print(report(store))
    except StoreError as error:
        print(f"error: the store cannot be opened: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
