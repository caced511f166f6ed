"""The errors vidstyle raises on purpose, beside the ``ValueError`` subclasses of the I/O modules.

The command line turns every one of them into one line on stderr and an exit code
(:mod:`vidstyle.cli`): 2 for what the user asked for or gave, 1 for what failed while running.
"""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(ValueError):
    """A problem with what the user asked for (an option, a path, a size): exit code 2."""
