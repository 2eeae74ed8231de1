"""`python -m core.classroom create "Lesson 3" --base-url http://host:8501`: a class and its
two links, from the terminal."""

from __future__ import annotations

import argparse
import sys

from core.lab.classroom.access import create_class, links
from core.store import Store, StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.classroom", description="Create a class and print its two links."
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
