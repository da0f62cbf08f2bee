"""``python -m runflow``: the command line (same as the ``runflow`` script)."""

import sys

from runflow.cli import main

sys.exit(main())
