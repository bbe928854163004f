"""``python -m pms``: the same as the ``pms`` console script."""

import sys

from pms.cli import main

sys.exit(main())
