"""`python -m core.codegen`: the README's command. A shipped model's standalone file
(`core.ml.codegen`), or with --notebook the same as a notebook (`core.ml.notebook`).

    python -m core.codegen vae > vae.py
    python -m core.codegen conv --dataset fashion > conv_fashion.py
    python -m core.codegen vae --notebook > vae.ipynb
"""

from __future__ import annotations

import argparse
import sys

from core.ml import codegen, data, notebook, variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=codegen.__doc__.splitlines()[0],
        epilog="Writes the file to standard output, under the name its docstring gives: "
        "python -m core.codegen vae > vae.py (vae_fashion.py with --dataset fashion); "
        "python -m core.codegen vae --notebook > vae.ipynb",
    )
    parser.add_argument("variant", choices=variants.names())
    parser.add_argument("--dataset", choices=list(data.DATASETS), default="mnist")
    parser.add_argument(
        "--notebook",
        action="store_true",
        help="a Jupyter notebook (.ipynb) of the same code, each step explained",
    )
    args = parser.parse_args(argv)
    if args.notebook:
        sys.stdout.write(notebook.for_shipped(args.variant, args.dataset))
    else:
        sys.stdout.write(codegen.for_shipped(args.variant, args.dataset))
    return 0


if __name__ == "__main__":
    sys.exit(main())
