"""`python -m tools.add_source`: `make add-source` and `make remove-source`."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
