"""`python -m core.worker`: the README's command; the code is in
`core.cluster.worker`."""

import sys

from core.cluster.worker import main

if __name__ == "__main__":
    sys.exit(main())
