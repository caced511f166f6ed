"""The errors vidstyle raises on purpose: a small hierarchy, part of the public API (docs/API.md).

- :class:`VidstyleError`: the base of every one of them but :class:`Interrupted`.
- :class:`UsageError` (also a ``ValueError``): bad input, anything the caller asked for or gave (an
  option out of range, a missing or unreadable file, a size the network cannot take). The I/O
  modules' own errors (``MediaError``, ``ImageError``, ``SequenceError``, ``MaskError``,
  ``CaptureError``, ``ModelFileError``, ``WeightsError``) are subclasses. Command line: exit 2.
- :class:`OutOfMemoryError` (also a ``MemoryError``): the size asked for does not fit on the
  device, found by the memory check before any work. Exit 2 (what the caller asked for); an
  out-of-memory failure of the device while running (torch's own error) is exit 1.
- :class:`Interrupted` (a ``KeyboardInterrupt``): Ctrl+C or SIGTERM stopped a render or a training
  cleanly; its message says what was kept and how to continue. Exit 130.

The command line turns each into one line on stderr and its exit code (:mod:`vidstyle.cli`); any
other exception is a failure while running (exit 1).
"""

from __future__ import annotations

__all__ = ["Interrupted", "OutOfMemoryError", "UsageError", "VidstyleError"]


class VidstyleError(Exception):
    """The base of the errors vidstyle raises on purpose (but :class:`Interrupted`)."""


class UsageError(VidstyleError, ValueError):
    """Bad input: a problem with what the caller asked for or gave (an option, a path, a file, a size)."""


class OutOfMemoryError(VidstyleError, MemoryError):
    """The size asked for does not fit in the device's memory; a smaller size or bfloat16 may."""


class Interrupted(KeyboardInterrupt):
    """Stopped on request (Ctrl+C, SIGTERM) after keeping what was done; the message says what."""
