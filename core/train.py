"""`python -m core.train`: the README's command; the code is in
`core.ml.retrain`."""

import sys

from core.ml.retrain import main

if __name__ == "__main__":
    sys.exit(main())
