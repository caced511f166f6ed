"""Overlap the pipeline's edges with the optimiser: a prefetching iterator and a background sink.

The per-frame optimiser is the long pole; decoding the next frame (and anything else that depends
only on the source, such as its optical flow) and encoding the previous output can run at the same
time on other threads. Decoders, OpenCV and encoders release the GIL while they work, and torch
releases it inside its kernels, so plain threads overlap well here; no processes are needed.

- :func:`prefetch` runs an iterator in a worker thread, at most ``depth`` items ahead of the consumer.
- :class:`BackgroundSink` wraps a sink (``write``/``close``/``abort``) so that ``write`` only enqueues
  and a worker thread does the writing, in order.

Both count how long the consumer (the optimiser's thread) spent waiting on them, ``waited_seconds``:
near zero means the edges are hidden behind the optimiser; a large value names the bottleneck.

Contracts shared by both: an exception raised in the worker is re-raised in the caller's thread (with
its original traceback) at the next call; stopping early never leaves a thread blocked forever; the
worker threads are daemons, so a worker stuck in a blocking read cannot keep the interpreter alive.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["BackgroundSink", "Prefetcher", "prefetch"]


T = TypeVar("T")

# Markers put on the queues next to the items; never seen by users.
_END = object()
_STOP = object()


class _Failure:
    """An exception raised in a worker thread, carried to the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


def _check_depth(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    return depth


def _produce(source: Iterator[Any], items: queue.Queue, slots: threading.Semaphore, stop: threading.Event) -> None:
    """Worker of :class:`Prefetcher`. Takes a slot before producing each item, so it never runs
    more than ``depth`` items ahead of the consumer (items in the queue plus the one being made)."""
    try:
        while True:
            slots.acquire()
            if stop.is_set():
                return
            try:
                item = next(source)
            except StopIteration:
                items.put(_END)
                return
            items.put(item)
    except BaseException as error:  # noqa: BLE001 - everything goes to the consumer
        items.put(_Failure(error))
    finally:
        # Close a generator source here, in the only thread that ever runs it, so its own cleanup
        # (closing a container, releasing a camera) happens even when the consumer stopped early.
        close = getattr(source, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - cleanup of an abandoned source must not raise anywhere
                pass


class Prefetcher(Iterator[T], Generic[T]):
    """An iterator that produces the items of ``iterable`` in a worker thread (see :func:`prefetch`).

    Attributes:
        waited_seconds: total time ``__next__`` blocked waiting for the worker.
        depth: the most items the worker may have produced that the consumer has not taken yet.
    """

    def __init__(self, iterable: Iterable[T], depth: int = 2, name: str = "vidstyle-prefetch"):
        self.depth = _check_depth(depth)
        self.waited_seconds = 0.0
        self._items: queue.Queue = queue.Queue()  # bounded by the semaphore, not by maxsize
        self._slots = threading.Semaphore(self.depth)
        self._stop = threading.Event()
        self._done = False
        # The worker gets only the shared objects, never ``self``: an abandoned Prefetcher can then
        # be garbage-collected, and __del__ stops the worker.
        self._thread = threading.Thread(
            target=_produce, args=(iter(iterable), self._items, self._slots, self._stop), name=name, daemon=True,
        )
        self._thread.start()

    def __iter__(self) -> "Prefetcher[T]":
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        try:
            item = self._items.get_nowait()
        except queue.Empty:
            started = time.perf_counter()
            item = self._items.get()
            self.waited_seconds += time.perf_counter() - started
        if item is _END:
            self._finish()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finish()
            raise item.error.with_traceback(item.error.__traceback__)
        self._slots.release()  # the consumer took one: the worker may make another
        return item

    def _finish(self) -> None:
        self._done = True
        self._thread.join()

    def close(self, timeout: float | None = None) -> None:
        """Stop the worker and wait for it (at most ``timeout`` seconds).

        The worker finishes the item it is making (a read cannot be interrupted from outside), then
        closes the source and exits. Items already made are dropped. Safe to call more than once.
        """
        self._done = True
        self._stop.set()
        self._slots.release()  # wake a worker waiting for a free slot
        self._thread.join(timeout)

    def __enter__(self) -> "Prefetcher[T]":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        # Never join here (a finaliser must not block); the daemon worker exits on its own.
        try:
            self._stop.set()
            self._slots.release()
        except AttributeError:  # __init__ failed before these existed
            pass


def prefetch(iterable: Iterable[T], depth: int = 2) -> Prefetcher[T]:
    """Iterate over ``iterable`` in a worker thread, at most ``depth`` items ahead of the consumer.

    Use it as an iterator; use ``with`` (or call ``close()``) when the loop may stop early so the
    worker stops and the source is closed at once rather than when the Prefetcher is collected::

        with prefetch(source.frames) as frames:
            for frame in frames:
                ...

    An exception from the source is re-raised by ``next()`` in the consumer's thread, after the
    items that came before it. ``waited_seconds`` tells how long the consumer waited for items.
    """
    return Prefetcher(iterable, depth)


class BackgroundSink:
    """A sink whose writes happen in order on a worker thread, at most ``depth`` frames behind.

    ``write`` enqueues and returns (it blocks only while ``depth`` frames are already waiting);
    ``close`` waits until every frame is written, then closes the wrapped sink; ``abort`` drops the
    frames not yet written and aborts the wrapped sink. An exception raised by the wrapped sink's
    ``write`` is re-raised by the next ``write`` or by ``close``; frames after it are not written.
    ``exists`` and ``path_for`` ask the wrapped sink.

    The caller must not modify a frame after handing it to ``write``.

    Attributes:
        waited_seconds: total time ``write`` and ``close`` blocked waiting for the worker.
    """

    def __init__(self, sink: Any, depth: int = 2, name: str = "vidstyle-sink"):
        self.sink = sink
        self.depth = _check_depth(depth)
        self.waited_seconds = 0.0
        self._frames: queue.Queue = queue.Queue(maxsize=self.depth)
        self._error: BaseException | None = None
        self._dropping = threading.Event()  # set by abort (and after a failure): discard, don't write
        self._finished = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            frame = self._frames.get()
            if frame is _STOP:
                return
            if self._dropping.is_set():
                continue  # keep taking frames so that a writer blocked on a full queue is released
            try:
                self.sink.write(frame)
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                self._error = error
                self._dropping.set()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error.with_traceback(self._error.__traceback__)

    def _put(self, item: Any) -> None:
        try:
            self._frames.put_nowait(item)
        except queue.Full:
            started = time.perf_counter()
            self._frames.put(item)
            self.waited_seconds += time.perf_counter() - started

    def write(self, frame: Any) -> None:
        """Queue ``frame`` for writing; re-raises an earlier write's failure."""
        if self._finished:
            raise RuntimeError("write() after close() or abort()")
        self._raise_failure()
        self._put(frame)

    def close(self) -> None:
        """Write every queued frame, stop the worker, close the wrapped sink.

        Raises the first write failure instead of closing (the caller then aborts, as it would with
        the wrapped sink itself).
        """
        if self._finished:
            return
        self._finished = True
        started = time.perf_counter()
        self._frames.put(_STOP)
        self._thread.join()
        self.waited_seconds += time.perf_counter() - started
        self._raise_failure()
        self.sink.close()

    def abort(self) -> None:
        """Drop the frames not yet written, stop the worker, abort the wrapped sink.

        Waits for a write already in progress to finish (it cannot be interrupted) so that the wrapped
        sink's ``abort`` never runs at the same time as its ``write``. Safe after ``close`` failed.
        """
        self._dropping.set()
        if self._thread.is_alive():
            while True:  # empty the queue so that the stop marker fits
                try:
                    self._frames.get_nowait()
                except queue.Empty:
                    break
            self._frames.put(_STOP)
            self._thread.join()
        self._finished = True
        self.sink.abort()

    # The rest of the sink interface (vidstyle.io.media.Sink) answers for the wrapped sink. A
    # background sink is never resumable: its frames are final only after close().
    resumable = False

    def exists(self, number: int) -> bool:
        return bool(self.sink.exists(number))

    def path_for(self, number: int) -> str | None:
        return self.sink.path_for(number)
