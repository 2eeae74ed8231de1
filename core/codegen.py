"""`python -m core.codegen`: the README's command; the code is in
`core.ml.codegen`."""

import sys

from core.ml.codegen import main

if __name__ == "__main__":
    sys.exit(main())
