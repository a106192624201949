"""Jobs run in order by one background thread, a bounded number of them ahead of or behind the caller.

Whole-mosaic staining (:mod:`stainworth.stainers.tiling`) reads the windows of the next batches
ahead of the network (:class:`ReadAhead`) and writes finished chunks behind it
(:class:`WriteBehind`): zarr's (de)compression releases the GIL, and so does torch during its
convolutions, so reading, writing and the network's forward passes overlap.

Both run their jobs in submission order on a single worker thread and keep at most ``depth`` of
them unfinished, so memory stays bounded; ``depth = 0`` runs every job in the calling thread, at
once, with no thread at all (the sequential reference). An exception raised by a job reaches the
caller unchanged (the same exception object, so the same type and message). Both are context
managers: leaving the ``with`` block, normally or by an exception, cancels the jobs not yet
started, lets the running one finish and joins the thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


class _Worker:
    """One worker thread (none for ``depth = 0``), shut down on leaving the ``with`` block."""

    def __init__(self, depth: int, name: str) -> None:
        if depth < 0:
            raise ValueError(f"{name}: depth {depth}; expected 0 (no thread) or more jobs in flight")
        self.depth = depth
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) if depth else None

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """``job`` running in the worker thread, or already run (``depth = 0``)."""
        if self.executor is not None:
            return self.executor.submit(job)
        future: Future[T] = Future()
        try:
            future.set_result(job())
        except BaseException as error:
            future.set_exception(error)
        return future

    def close(self) -> None:
        """Cancel the jobs not started yet, wait for the running one and join the thread."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)


class ReadAhead(Generic[T]):
    """The results of ``job(0)``, ..., ``job(count - 1)`` in order, computed up to ``depth`` jobs ahead.

    Parameters
    ----------
    job
        Called with the index of each result, in increasing order, in the worker thread.
    count
        Number of results.
    depth
        Results computed (or being computed) beyond the one the caller last received; 0 computes
        each result in the calling thread when it is asked for.

    Examples
    --------
    >>> with ReadAhead(lambda k: k * k, 4, depth=2) as squares:
    ...     list(squares)
    [0, 1, 4, 9]
    """

    def __init__(self, job: Callable[[int], T], count: int, *, depth: int) -> None:
        self.job, self.count = job, count
        self.worker = _Worker(depth, "stainworth-read-ahead")
        self.pending: deque[Future[T]] = deque()
        self.submitted = 0

    def _fill(self, target: int) -> None:
        """Submit jobs until ``target`` are unfinished (or all are submitted)."""
        while self.submitted < self.count and len(self.pending) < target:
            self.pending.append(self.worker.submit(partial(self.job, self.submitted)))
            self.submitted += 1

    def __iter__(self) -> Iterator[T]:
        while True:
            self._fill(max(self.worker.depth, 1))  # with depth 0: the next job, run now
            if not self.pending:
                return
            result = self.pending.popleft().result()
            self._fill(self.worker.depth)
            yield result

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.pending.clear()
        self.worker.close()


class WriteBehind:
    """Write jobs run in order in a worker thread, at most ``depth`` unfinished, each tagged with a key.

    :meth:`submit` waits for the oldest job while ``depth`` are unfinished and raises the error of
    any job found failed; :meth:`wait` waits for the jobs of one key (before reading back what
    they write); :meth:`drain` waits for all of them.

    Parameters
    ----------
    depth
        Unfinished jobs at most; 0 runs each job in the calling thread when it is submitted.
    """

    def __init__(self, *, depth: int) -> None:
        self.worker = _Worker(depth, "stainworth-write-behind")
        self.pending: deque[tuple[Hashable, Future[None]]] = deque()

    def _settle(self, count: int) -> None:
        """Wait for the oldest ``count`` jobs and for every other job already done; raise the first error."""
        while self.pending and (count > 0 or self.pending[0][1].done()):
            self.pending.popleft()[1].result()
            count -= 1

    def submit(self, key: Hashable, job: Callable[[], None]) -> None:
        """Run ``job`` after the jobs submitted before it; ``key`` names what it writes."""
        self._settle(len(self.pending) - max(self.worker.depth, 1) + 1)
        self.pending.append((key, self.worker.submit(job)))
        self._settle(0)  # a job run at once (depth 0) or already done: its error now

    def wait(self, key: Hashable) -> None:
        """Return once no job of ``key`` is unfinished (and raise the first error up to the last of them)."""
        last = max((k for k, (tag, _) in enumerate(self.pending) if tag == key), default=-1)
        self._settle(last + 1)

    def drain(self) -> None:
        """Return once every job submitted so far is finished (and raise the first error)."""
        self._settle(len(self.pending))

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.pending.clear()
        self.worker.close()
