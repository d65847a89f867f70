"""`python -m batonctl` (in the Airflow image) or `python -m tools.batonctl` (in a checkout)."""

import sys

from .cli import app

sys.exit(app())
