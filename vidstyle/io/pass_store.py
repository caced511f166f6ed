"""The frames of a multi-pass render between its passes (vidstyle/passes.py), on disk.

A hidden folder next to the output, named after it; every file float32 ``.npy`` or ``.npz`` read
without pickle, written atomically (:func:`vidstyle.io.resume.atomic_write`), so a killed render
leaves only whole files and the next run continues from them exactly.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import flow

from ..engine import Engine, HistoryEntry
from ..frames import Frame
from .resume import ResumeState, atomic_write

__all__ = ["PassStore", "StoreResume", "StoreSink", "StoreSource", "pass_store_path"]


def pass_store_path(output: str) -> Path:
    """Where a multi-pass render keeps its frames between passes: a hidden folder next to the output
    named after it (``.clip.mp4.passes``, ``.shot.####.exr.passes``), removed once the output is
    complete."""
    path = Path(output)
    return path.with_name(f".{path.name.replace('#', '_').replace('%', '_').replace('@', '_')}.passes")


class PassStore:
    """The frames of a multi-pass render on disk, float32 ``.npy`` files (exact, no pickle):

    - ``inputs/N.npy``: frame N's working-size input, (H, W, 3) in [0, 1];
    - ``pairs/N-M.npz``: the flow pair of frame N from its neighbour M (``temporal.frame_pair``
      of M's input then N's: backward flow and reliability of N);
    - ``passK/N.npy``: pass K's output of frame N;
    - ``settings.json``: what the frames were rendered with; a store with other settings is
      discarded when opened (it is a temporary; a sequence's own sidecar refuses a changed rerun).
    """

    def __init__(self, root: Path, settings: dict[str, Any]):
        self.root = Path(root)
        record = json.loads(json.dumps(settings, sort_keys=True, default=str))
        path = self.root / "settings.json"
        if self.root.exists():
            try:
                same = json.loads(path.read_text()) == record
            except (OSError, ValueError):
                same = False
            if not same:
                shutil.rmtree(self.root)
        if not self.root.exists():
            atomic_write(path, lambda s: s.write(json.dumps(record, indent=2, sort_keys=True).encode()))

    # -- frames ------------------------------------------------------------------------------------
    def _array_path(self, folder: str, number: int) -> Path:
        return self.root / folder / f"{number}.npy"

    def has(self, folder: str, number: int) -> bool:
        return self._array_path(folder, number).is_file()

    def put(self, folder: str, number: int, image: np.ndarray) -> None:
        array = np.ascontiguousarray(image, dtype=np.float32)
        atomic_write(self._array_path(folder, number), lambda s: np.save(s, array, allow_pickle=False))

    def get(self, folder: str, number: int) -> np.ndarray:
        return np.load(self._array_path(folder, number), allow_pickle=False)

    @staticmethod
    def pass_folder(pass_index: int) -> str:
        return f"pass{pass_index}"

    # -- flow --------------------------------------------------------------------------------------
    def pair(self, number: int, neighbour: int, compute: Callable[[], flow.FlowPair]) -> flow.FlowPair:
        """The flow pair of frame ``number`` from ``neighbour``, computed once and kept."""
        path = self.root / "pairs" / f"{number}-{neighbour}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                return flow.FlowPair(forward=data["forward"], backward=data["backward"], reliability=data["reliability"])
        pair = compute()
        atomic_write(path, lambda s: np.savez(s, forward=pair.forward, backward=pair.backward, reliability=pair.reliability))
        return pair

    def numbers(self) -> list[int]:
        """The frame numbers whose inputs are stored, in order."""
        folder = self.root / "inputs"
        return sorted(int(p.stem) for p in folder.glob("*.npy")) if folder.is_dir() else []

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class StoreSink:
    """A sink into one pass of a :class:`PassStore`; every frame is final once written (resumable)."""

    resumable = True

    def __init__(self, store: PassStore, pass_index: int):
        self.store, self.folder = store, PassStore.pass_folder(pass_index)

    def write(self, frame: Frame) -> None:
        self.store.put(self.folder, frame.number, frame.image)

    def exists(self, number: int) -> bool:
        return self.store.has(self.folder, number)

    def path_for(self, number: int) -> str | None:
        return os.fspath(self.store._array_path(self.folder, number))

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class StoreResume(ResumeState):
    """Resume policy for a pass into the store: finished frames are skipped; an engine's history
    comes back from the store's exact inputs and outputs, so nothing is saved beside them."""

    def __init__(self, store: PassStore, pass_index: int, numbers: list[int]):
        super().__init__(store.root / "unused-state.npz", skip_finished=True)
        self.store, self.folder, self.numbers = store, PassStore.pass_folder(pass_index), numbers

    def restore(self, engine: Engine, sink: Any, done: Frame) -> None:
        if not engine.depth:
            return
        position = self.numbers.index(done.number)
        numbers = self.numbers[max(0, position + 1 - engine.depth):position + 1]
        engine.restore([HistoryEntry(n, self.store.get("inputs", n), self.store.get(self.folder, n)) for n in numbers])

    def save(self, engine: Engine) -> None:
        pass


class StoreSource:
    """The store's inputs as a :class:`~vidstyle.io.media.Source` in one sweep's order."""

    is_sequence = True  # numbers are the store's own: the frame loop must not renumber them
    fps = None
    time_base = None
    path = ""

    def __init__(self, store: PassStore, order: list[int], position: dict[int, int], size: tuple[int, int]):
        self.store, self.order, self.position = store, order, position
        self.width, self.height = size
        self.count = len(order)
        self.reader = None

    @property
    def frames(self) -> Iterator[Frame]:
        for number in self.order:
            yield Frame(self.store.get("inputs", number), index=self.position[number], number=number)
