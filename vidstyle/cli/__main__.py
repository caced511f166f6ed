"""``python -m vidstyle.cli``: the same as the ``vidstyle`` command."""

import sys

from . import main

sys.exit(main())
