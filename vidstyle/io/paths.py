"""Checks on output paths, made before any work starts, so a render never runs for an hour and then
cannot write its result, and never writes over its input."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError

__all__ = ["check_output", "same_file"]


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when the two paths name the same file (existing or not)."""
    return os.path.realpath(a) == os.path.realpath(b)


def check_output(output: str | os.PathLike, inputs: list[str] | list[str | os.PathLike], overwrite: bool) -> Path:
    """Refuse an output that is an input, that exists (without ``overwrite``) or cannot be written."""
    out = Path(output)
    for source in inputs:
        if same_file(source, out):
            raise UsageError(f"output {out} is the input; choose another name")
    if out.is_dir():
        raise UsageError(f"output {out} is a directory; expected a file name")
    if out.exists() and not overwrite:
        raise UsageError(f"output {out} already exists (use --overwrite to replace it)")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"output folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"output folder {folder} is not writable")
    return out
