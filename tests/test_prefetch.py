"""prefetch() and BackgroundSink: they overlap, stay bounded, pass errors on, and never hang.

Overlap is shown with sleeps (time.sleep releases the GIL, as decoders, OpenCV and torch kernels do):
a producer and a consumer that each take T per item finish n items in about (n + 1) T, not 2 n T.
The margins are wide because the CI machines are shared and their timing is noisy.
"""

from __future__ import annotations

import threading
import time

import pytest

from vidstyle.prefetch import BackgroundSink, prefetch

STEP = 0.05
N = 8


def slow_items(n, delay, log=None):
    for i in range(n):
        time.sleep(delay)
        if log is not None:
            log.append(i)
        yield i


def wait_until(condition, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


# -- prefetch ---------------------------------------------------------------------------------------


def test_yields_every_item_in_order():
    assert list(prefetch(range(100), depth=3)) == list(range(100))
    assert list(prefetch([])) == []


def test_slow_producer_and_slow_consumer_overlap():
    started = time.perf_counter()
    seen = []
    for item in prefetch(slow_items(N, STEP), depth=2):
        time.sleep(STEP)  # the consumer's work
        seen.append(item)
    elapsed = time.perf_counter() - started
    assert seen == list(range(N))
    serial = 2 * N * STEP  # 0.8 s without overlap; about (N + 1) * STEP = 0.45 s with it
    assert elapsed < 0.8 * serial, elapsed


def test_waited_seconds_is_small_when_the_consumer_is_the_bottleneck():
    items = prefetch(slow_items(N, STEP / 5), depth=2)
    for _ in items:
        time.sleep(STEP)
    # Only the first item is waited for; later ones are made while the consumer works.
    assert items.waited_seconds < 3 * STEP, items.waited_seconds


def test_waited_seconds_measures_a_slow_producer():
    items = prefetch(slow_items(4, STEP), depth=2)
    assert list(items) == [0, 1, 2, 3]
    assert items.waited_seconds > 3 * STEP


def test_producer_never_runs_more_than_depth_items_ahead():
    for depth in (1, 2, 4):
        produced = []
        items = prefetch(slow_items(20, 0.0, log=produced), depth=depth)
        taken = 0
        for _ in items:
            taken += 1
            time.sleep(0.01)  # give the producer every chance to run ahead
            assert len(produced) - taken <= depth, (depth, len(produced), taken)
        assert taken == 20


def test_producer_fills_up_to_depth_while_the_consumer_is_away():
    produced = []
    items = prefetch(slow_items(20, 0.0, log=produced), depth=3)
    assert wait_until(lambda: len(produced) == 3)
    time.sleep(0.05)
    assert len(produced) == 3  # and no further
    items.close()


def test_exception_in_the_source_reaches_the_consumer_after_the_good_items():
    def broken():
        yield 1
        yield 2
        raise OSError("corrupt frame 3")

    items = prefetch(broken())
    assert next(items) == 1
    assert next(items) == 2
    with pytest.raises(OSError, match="corrupt frame 3"):
        next(items)
    with pytest.raises(StopIteration):
        next(items)


def test_exception_keeps_its_traceback():
    def broken():
        raise ValueError("bad header")
        yield  # pragma: no cover

    with pytest.raises(ValueError) as info:
        list(prefetch(broken()))
    assert any(entry.name == "broken" for entry in info.traceback)


def test_early_stop_ends_the_worker_and_closes_the_source():
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    with prefetch(endless(), depth=2) as items:
        for item in items:
            if item == 3:
                break
    assert closed.wait(2.0), "the source generator was not closed"
    assert not items._thread.is_alive()


def test_close_does_not_hang_while_the_producer_is_mid_item():
    items = prefetch(slow_items(100, 0.2), depth=2)
    time.sleep(0.05)  # the worker is now inside its first sleep
    started = time.perf_counter()
    items.close()
    assert time.perf_counter() - started < 1.0
    assert not items._thread.is_alive()


def test_abandoned_prefetcher_does_not_keep_its_worker_alive():
    produced = []
    items = prefetch(slow_items(1000, 0.0, log=produced), depth=2)
    next(items)
    thread = items._thread
    del items  # refcounting collects it at once: __del__ signals the worker to stop
    thread.join(2.0)
    assert not thread.is_alive()
    assert len(produced) <= 4


def test_bad_depth_is_refused():
    for depth in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="depth"):
            prefetch([1], depth=depth)


# -- BackgroundSink ---------------------------------------------------------------------------------


class RecordingSink:
    def __init__(self, delay=0.0, fail_at=None):
        self.delay, self.fail_at = delay, fail_at
        self.written, self.closed, self.aborted = [], False, False
        self.threads = set()

    def write(self, frame):
        self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        if frame == self.fail_at:
            raise OSError(f"disk full at {frame}")
        self.written.append(frame)

    def exists(self, number):
        return number in self.written

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True


def test_sink_writes_everything_in_order_on_another_thread_then_closes():
    inner = RecordingSink()
    sink = BackgroundSink(inner, depth=2)
    for i in range(50):
        sink.write(i)
    sink.close()
    assert inner.written == list(range(50)) and inner.closed and not inner.aborted
    assert inner.threads and threading.get_ident() not in inner.threads


def test_sink_overlaps_writing_with_the_callers_work():
    inner = RecordingSink(delay=STEP)
    sink = BackgroundSink(inner, depth=2)
    started = time.perf_counter()
    for i in range(N):
        time.sleep(STEP)  # the optimiser's work on the next frame
        sink.write(i)
    sink.close()
    elapsed = time.perf_counter() - started
    assert inner.written == list(range(N))
    assert elapsed < 0.8 * 2 * N * STEP, elapsed
    assert sink.waited_seconds < 3 * STEP, sink.waited_seconds


def test_sink_write_blocks_when_depth_frames_are_waiting():
    release = threading.Event()

    class Stuck(RecordingSink):
        def write(self, frame):
            release.wait()
            super().write(frame)

    inner = Stuck()
    sink = BackgroundSink(inner, depth=2)
    sink.write(0)  # taken by the worker, which now waits on `release`
    assert wait_until(lambda: sink._frames.empty())
    sink.write(1)
    sink.write(2)  # queue full now
    blocked = threading.Thread(target=sink.write, args=(3,), daemon=True)
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive(), "write() should wait while depth frames are queued"
    release.set()
    blocked.join(2.0)
    assert not blocked.is_alive()
    sink.close()
    assert inner.written == [0, 1, 2, 3]
    assert sink.waited_seconds > 0.1


def test_sink_failure_is_raised_by_a_later_write_or_by_close():
    inner = RecordingSink(fail_at=2)
    sink = BackgroundSink(inner, depth=2)
    with pytest.raises(OSError, match="disk full at 2"):
        for i in range(100):
            sink.write(i)
            time.sleep(0.002)
    with pytest.raises(OSError, match="disk full"):
        sink.close()
    assert not inner.closed
    sink.abort()  # what the frame loop (vidstyle.render) does after a failure
    assert inner.aborted and inner.written == [0, 1]


def test_sink_failure_in_the_last_frame_is_raised_by_close():
    inner = RecordingSink(fail_at=1)
    sink = BackgroundSink(inner)
    sink.write(0)
    sink.write(1)
    with pytest.raises(OSError, match="disk full at 1"):
        sink.close()


def test_sink_abort_drops_pending_frames_and_does_not_hang():
    inner = RecordingSink(delay=0.1)
    sink = BackgroundSink(inner, depth=4)
    for i in range(5):
        sink.write(i)
    started = time.perf_counter()
    sink.abort()
    assert time.perf_counter() - started < 1.0
    assert inner.aborted and not inner.closed
    assert len(inner.written) <= 2  # the write in progress may finish; the queued ones are dropped
    assert not sink._thread.is_alive()
    with pytest.raises(RuntimeError, match="after close"):
        sink.write(9)


def test_sink_answers_exists_for_the_wrapped_sink():
    inner = RecordingSink()
    sink = BackgroundSink(inner)
    sink.write(7)
    sink.close()
    assert sink.exists(7) and not sink.exists(8)
