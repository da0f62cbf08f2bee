"""A long type-fuzz run (:mod:`runflow.testing.typefuzz`) spread over processes.

The inputs are those :func:`~runflow.testing.typefuzz.run_typefuzz` takes (the same
numbers, picked with the same seed, each at the same position of the run, so the
same inputs are measured under ``tracemalloc`` and go through the layers). They
are cut into chunks of consecutive positions; the chunks run in a shuffled order
(fixed by the seed) so that a run stopped early (``stop_after``) has taken inputs
from every stream, not only the first ones, and the parts are merged in chunk order:
the report does not depend on ``jobs``.

Ctrl-C stops a run the way ``stop_after`` does: no new chunk starts, the chunks
already running finish (the workers ignore SIGINT), and the report covers the
inputs run. A second Ctrl-C aborts.
"""

from __future__ import annotations

import multiprocessing
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from types import FrameType
from typing import Any, Final

from runflow.testing.typefuzz import Corpus, Runner, new_report, picks
from runflow.testing.typefuzz_report import TypeFuzzReport
from runflow.testing.typefuzz_target import MEMORY_EVERY

__all__ = ["CHUNK", "run_parallel"]

CHUNK: Final = 100
"""Inputs per chunk: consecutive inputs often change the same event, and share the
picture of the flow before it."""

_runner: Runner | None = None
"""The worker process's runner (set by :func:`_start`)."""


def _start(corpus: Corpus, memory_every: int) -> None:
    global _runner
    _runner = Runner(corpus, memory_every)


def _start_worker(corpus: Corpus, memory_every: int) -> None:
    """A worker leaves Ctrl-C to the parent, which lets running chunks finish."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _start(corpus, memory_every)


def _chunk(start: int, numbers: Sequence[int]) -> TypeFuzzReport:
    """Run the inputs at positions ``start``... (numbers ``numbers``) in this worker."""
    runner = _runner
    if runner is None:
        raise RuntimeError("the worker was not started")
    part = new_report(runner.corpus, len(numbers))
    for offset, n in enumerate(numbers):
        runner.run(start + offset, n, part)
    part.corrupted = runner.corrupted()
    return part


class _CtrlC:
    """While a run is under way in the main thread, the first SIGINT only sets
    :attr:`pressed` (the run then stops taking chunks); a second one raises
    ``KeyboardInterrupt`` as usual. A flag, not an exception: an exception could
    land anywhere (inside ``pool.submit``, between a chunk's end and its count)."""

    def __init__(self) -> None:
        self.pressed = False
        self._before: Any = None

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._before = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *_: object) -> None:
        if self._before is not None:
            signal.signal(signal.SIGINT, self._before)


def run_parallel(corpus: Corpus, budget: int, seed: int = 0, *, jobs: int = 1,
                 progress: Callable[[int, int, TypeFuzzReport], None] | None = None,
                 memory_every: int = MEMORY_EVERY, stop_after: float | None = None,
                 chunk: int = CHUNK) -> TypeFuzzReport:
    """Run ``budget`` inputs picked with ``seed`` in ``jobs`` processes (1: in this
    one); ``progress(done, total, report so far)`` after each chunk; stop taking new
    chunks after ``stop_after`` seconds or at Ctrl-C (the report says it stopped
    early)."""
    chosen = picks(corpus.size, budget, seed)
    starts = list(range(0, len(chosen), chunk))
    order = list(starts)
    random.Random(seed).shuffle(order)
    parts: dict[int, TypeFuzzReport] = {}
    so_far = new_report(corpus, len(chosen))
    began = time.monotonic()

    def took(start: int, part: TypeFuzzReport) -> None:
        parts[start] = part
        so_far.merge(part)
        if progress is not None:
            progress(so_far.inputs, len(chosen), so_far)

    with _CtrlC() as ctrl_c:
        def late() -> bool:
            return ctrl_c.pressed or (stop_after is not None
                                      and time.monotonic() - began > stop_after)

        if jobs <= 1:
            _start(corpus, memory_every)
            for start in order:
                if late():
                    break
                took(start, _chunk(start, chosen[start:start + chunk]))
        else:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                                     initargs=(corpus, memory_every)) as pool:
                waiting = list(reversed(order))
                running: dict[Future[TypeFuzzReport], int] = {}
                while waiting or running:
                    # one chunk per process at a time: a run past stop_after (or
                    # Ctrl-C) waits only for the chunks already running
                    while waiting and len(running) < jobs and not late():
                        start = waiting.pop()
                        running[pool.submit(_chunk, start,
                                            chosen[start:start + chunk])] = start
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        took(running.pop(future), future.result())
    report = new_report(corpus, len(chosen))
    for start in sorted(parts):
        report.merge(parts[start])
    return report
