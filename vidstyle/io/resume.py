"""What a frame-sequence render leaves beside its output so that it can be resumed exactly.

Two files next to the output frames (named after the output pattern's base name):

- ``{base}vidstyle.json``: the settings, style files (with SHA-256) and versions the frames were
  rendered with. A rerun with different settings refuses to mix frames unless ``--overwrite``.
- ``.{base}vidstyle-state.npz``: the last few finished frames at the working size (input and
  stylised output, float32), so the temporal term continues from exactly what an uninterrupted run
  would have had, not from a re-read, quantised, resized output file.

Both are written atomically (temporary name ``.{name}.XXXXXXXX.tmp``, then rename);
:func:`cleanup_temporaries` removes such temporaries left by a killed run. The state is written
*before* its frame and holds one frame more than the temporal history needs, so a kill between the
two leaves a state that is one frame ahead, never behind; the resume takes the entries up to the
last finished frame.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import Engine, HistoryEntry
from ..frames import Frame
from .media import Sink
from .sequence import SequenceWriter, parse_pattern

__all__ = [
    "ResumeState", "atomic_write", "cleanup_temporaries", "differences", "file_digest", "open_resume", "read_settings",
    "read_state", "resume_history", "sidecar_paths", "write_settings", "write_state",
]


def sidecar_paths(output_pattern: str | os.PathLike) -> tuple[Path, Path]:
    seq = parse_pattern(output_pattern)
    folder = Path(seq.dirname() or ".")
    base = seq.basename()
    return folder / f"{base}vidstyle.json", folder / f".{base}vidstyle-state.npz"


def file_digest(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cleanup_temporaries(output_pattern: str | os.PathLike) -> list[Path]:
    """Delete temporaries of the two sidecar files left by a killed run; returns what was removed."""
    removed = []
    for path in sidecar_paths(output_pattern):
        if path.parent.is_dir():
            for entry in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
                if entry.is_file():
                    entry.unlink(missing_ok=True)
                    removed.append(entry)
    return sorted(removed)


def atomic_write(path: Path, write: Callable[[Any], Any]) -> None:
    """Write ``path`` through ``write(stream)`` into a temporary beside it, fsync, rename into place:
    a reader or a killed writer never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode any other new file gets (umask).
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_settings(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read render settings {path}: {error}; delete it or use --overwrite") from None
    if not isinstance(settings, dict):
        raise ValueError(f"cannot read render settings {path}: not a JSON object; delete it or use --overwrite")
    return settings


def write_settings(path: Path, settings: dict) -> None:
    atomic_write(path, lambda s: s.write(json.dumps(settings, indent=2, sort_keys=True).encode()))


def differences(old: dict, new: dict) -> list[str]:
    """Human-readable list of settings that differ, ignoring the 'versions' entry.

    Nested entries are named by their path, so a changed option reads ``config.style_weight: 100.0
    -> 20.0`` rather than the whole config twice.
    """
    return [f"{key}: {a!r} -> {b!r}" for key, a, b in _changes(old, new, "") if key != "versions" and not key.startswith("versions.")]


def _changes(old: dict, new: dict, prefix: str):
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            yield from _changes(a, b, f"{prefix}{key}.")
        elif a != b:
            yield f"{prefix}{key}", a, b


def read_state(path: Path) -> list[HistoryEntry]:
    if not path.is_file():
        return []
    try:
        with np.load(path) as data:
            numbers = data["numbers"].tolist()
            sources, outputs = data["sources"], data["outputs"]
            ages = _optional(data, "ages", len(numbers))
            targets = _optional(data, "targets", len(numbers))
            inner = _optional(data, "inner_outputs", len(numbers))
            entries = []
            for i, n in enumerate(numbers):
                own = inner[i]
                entries.append(HistoryEntry(int(n), sources[i], outputs[i], target=targets[i], age=ages[i],
                                            inner=None if own is None else HistoryEntry(int(n), sources[i], own)))
            return entries
    except (OSError, ValueError, KeyError):
        return []  # a damaged state only costs exactness: the resume falls back to the output files


def _optional(data: Any, name: str, count: int) -> list[np.ndarray | None]:
    """A per-entry array that only some entries have (stored stacked, with ``NAME_present``)."""
    if name not in data.files:
        return [None] * count
    present = data[f"{name}_present"] if f"{name}_present" in data.files else np.ones(count, bool)
    stacked = data[name]
    return [stacked[i] if present[i] else None for i in range(count)]


def write_state(path: Path, entries: list[HistoryEntry]) -> None:
    if not entries:
        return

    # What some engines keep beside each output goes along, so a resumed run continues as the
    # unbroken run would: the deflicker stage's per-pixel ages, a matte's targets (what later
    # frames are held to), and a wrapped engine's own outputs (stylize --deflicker).
    extra: dict[str, np.ndarray] = {}
    for name, values in (("ages", [e.age for e in entries]), ("targets", [e.target for e in entries]),
                         ("inner_outputs", [e.inner.output if e.inner is not None else None for e in entries])):
        present = [v is not None for v in values]
        if any(present):
            like = next(v for v in values if v is not None)
            extra[name] = np.stack([v if v is not None else np.zeros_like(like) for v in values])
            extra[f"{name}_present"] = np.array(present)

    def write(stream):
        np.savez(
            stream,
            numbers=np.array([e.number for e in entries]),
            sources=np.stack([e.source for e in entries]),
            outputs=np.stack([e.output for e in entries]),
            **extra,
        )

    atomic_write(path, write)


def resume_history(state: Path, engine: Engine, sink: Sink, done: Frame) -> list[HistoryEntry]:
    """The history an engine continues from after ``done``, the last frame found finished on disk:
    the saved ``state`` when it reaches that frame, else that frame's output file (``sink``)
    re-read at the working size (close, not exact: the file was resized to the plate and
    quantised)."""
    from ..frames import resize
    from .image import read_image

    if not engine.depth:
        return []
    shape = (engine.size[1], engine.size[0], 3)
    entries = [e for e in read_state(state) if e.number <= done.number and e.source.shape == e.output.shape == shape]
    if entries and entries[-1].number == done.number:
        return entries
    path = sink.path_for(done.number)
    if path is None:
        raise ValueError(f"cannot resume after frame {done.number}: the output keeps no file per frame")
    # A colour-managed sequence's files hold scene-linear values: its sink reads them back through the view.
    read_back = getattr(sink, "read_back", None)
    output = resize(read_back(done.number) if read_back is not None else read_image(path)[0], engine.size)
    return [HistoryEntry(done.number, resize(done.image, engine.size), output)]


class ResumeState:
    """The resume policy of one sequence render (or one chunk of a scale-out render): whether the
    finished frames of an earlier run are skipped, and the state file written before each frame.

    The frame loop (:func:`vidstyle.render.render`) calls :meth:`restore` once, before the first
    frame it renders after skipped ones, and :meth:`save` after each frame it renders, before that
    frame is written: the state then holds the engine's history plus one entry more, so a kill
    between the two still finds the frames before the missing one."""

    def __init__(self, state: Path, skip_finished: bool = True):
        self.state = Path(state)
        self.skip_finished = skip_finished
        self.saved: list[HistoryEntry] = []  # what the state file holds

    def restore(self, engine: Engine, sink: Sink, done: Frame) -> None:
        """Continue ``engine`` after ``done``, the last finished frame found on disk."""
        self.saved = resume_history(self.state, engine, sink, done)
        engine.restore(self.saved)

    def save(self, engine: Engine) -> None:
        """Write the engine's history (and the entry before it) as the state."""
        latest = {e.number for e in engine.history}
        self.saved = ([e for e in self.saved if e.number not in latest] + engine.history)[-(engine.depth + 1):]
        write_state(self.state, self.saved)


def open_resume(output_pattern: str, settings: dict[str, Any], overwrite: bool,
                refuse: Callable[[str], Exception] = ValueError) -> ResumeState:
    """Compare ``settings`` with those of earlier runs into the same output sequence, clean up what a
    killed run left, record the new settings and return the render's resume policy.

    A different earlier run is refused (``refuse(message)`` is raised) unless ``overwrite``, which
    also drops the old state so every frame is rendered again."""
    settings_path, state_path = sidecar_paths(output_pattern)
    settings = json.loads(json.dumps(settings))  # compare as the file will hold them (tuples -> lists)
    old = read_settings(settings_path)
    SequenceWriter(output_pattern).cleanup_temporaries()
    cleanup_temporaries(output_pattern)
    if old is not None and not overwrite:
        changed = differences(old, settings)
        if changed:
            raise refuse(f"{settings_path} records other settings ({'; '.join(changed[:3])}); use --overwrite to re-render with the new ones")
    if overwrite:
        state_path.unlink(missing_ok=True)
    write_settings(settings_path, settings)
    return ResumeState(state_path, skip_finished=not overwrite)
