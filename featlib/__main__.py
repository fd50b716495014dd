"""Entry point of ``python -m featlib``."""

import sys

from featlib.cli import main

sys.exit(main())
