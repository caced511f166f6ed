"""Command line: ``vidstyle image | stylize | deflicker | texture | train | info | export | live | eval | bench | demo``.

The package is an edge: each command's module parses its options, checks paths, shows progress and
calls the library (``stylize`` is :func:`vidstyle.pipeline.stylize_video` behind its options);
this module turns every expected failure into one line on stderr and an exit code: 2 for usage and
input errors, 1 for failures while running, 130 when interrupted. ``--debug`` shows the traceback
instead. Nothing outside this package imports it.

Options that set a :class:`vidstyle.config.StyleConfig` field are generated from the dataclass
(:mod:`vidstyle.cli.options`), so their defaults and help live in one place.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import OutOfMemoryError, UsageError
from . import bench, deflicker, demo, evaluate, export, image, info, live, options, stylize, texture, train

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_USAGE", "UsageError", "build_parser", "main"]

EXIT_USAGE = options.EXIT_USAGE
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = options.Parser(prog="vidstyle", description="Repaint images and video in the style of an artwork, without flicker.")
    parser.add_argument("--version", action="version", version=f"vidstyle {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=options.Parser)
    for command in (image, stylize, deflicker, texture, train, info, export, evaluate, demo, live, bench):
        command.add_parser(commands)
    return parser


def _version() -> str:
    from .. import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = getattr(args, "debug", False)
    if not debug:
        # OpenCV prints its own WARN lines for damaged files; our one-line errors say it better.
        os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    _terminate_as_interrupt()
    _one_line_warnings()
    try:
        return args.func(args)
    except KeyboardInterrupt as interrupt:
        # A command that stopped cleanly says what it kept (train: the step of its checkpoint).
        print(f"vidstyle: interrupted{': ' + str(interrupt) if str(interrupt) else ''}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - every failure becomes one line unless --debug
        if debug:
            raise
        code, message = _classify(error)
        print(f"vidstyle: error: {message}", file=sys.stderr)
        return code


def _release_gpu_memory() -> None:
    """Leave the device usable for the next job after an out-of-memory error."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort while already reporting an error
        pass


def _terminate_as_interrupt() -> None:
    """SIGTERM (a render farm or ``kill``) unwinds like Ctrl-C: the sinks close or clean up."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _one_line_warnings() -> None:
    """Warnings (e.g. frames skipped in a damaged video) as one line each, without source lines."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"vidstyle: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def _classify(error: Exception) -> tuple[int, str]:
    """Exit code and one-line message for an exception."""
    from ..shots.backends import BackendError

    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, BackendError):
        return EXIT_FAILURE, message
    if isinstance(error, OutOfMemoryError):  # the memory check: the size asked for cannot fit
        return EXIT_USAGE, f"out of memory: {message}"
    # UsageError covers the I/O modules' errors (vidstyle.errors); other ValueErrors are the
    # library's own argument checks, reached from options it was given.
    if isinstance(error, (UsageError, ValueError, FileNotFoundError)):
        return EXIT_USAGE, message
    if isinstance(error, MemoryError) or "out of memory" in message.lower():
        _release_gpu_memory()
        first = message.split(". ")[0]
        return EXIT_FAILURE, f"out of memory: {first} (try a smaller --size, or --dtype bfloat16 on a GPU)"
    if isinstance(error, OSError):
        return EXIT_FAILURE, f"{error.strerror or message}: {error.filename}" if error.filename else message
    return EXIT_FAILURE, f"{type(error).__name__}: {message}"
