"""`python -m core.evaluate`: the README's command; the code is in
`core.ml.evaluate`."""

import sys

from core.ml.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
