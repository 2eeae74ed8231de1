"""`python -m core.classroom`: the README's command; the code is in
`core.lab.classroom`."""

import sys

from core.lab.classroom.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
