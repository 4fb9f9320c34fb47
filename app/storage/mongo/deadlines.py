"""This side's bound on database reads: a read still waiting past its deadline is cancelled, swept by one timer.

The database stops a query at its time limit (`maxTimeMS`); this bound is for a database that does not (one
stuck in a single long match, or gone silent), and it is met a little after the limit. `asyncio.timeout` would
set and cancel a timer for every read (about 5 µs each, on every request); here a read only records its task
and deadline in a set (under a microsecond), and one timer, running while reads are in flight, wakes every
`SWEEP` seconds and cancels those past their deadline. The cancellation becomes `DeadlineExceeded` when it
leaves the read, as `asyncio.timeout` turns its own into `TimeoutError`.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

SWEEP = 0.25
"""Seconds between two sweeps: how late past its deadline a read can be cancelled."""


class DeadlineExceeded(Exception):
    """The read was still waiting at its deadline, and was cancelled."""


class Deadlines:
    """The reads in flight and their deadlines, each `bound` seconds after it started."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self.running: set[_Read] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    def read(self) -> _Read:
        """`async with deadlines.read():` the block is cancelled if it runs past the bound."""
        return _Read(self)

    def _sweep(self) -> None:
        self._sweeper = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for read in self.running:
            if not read.expired and read.deadline <= now:
                read.expired = True
                read.task.cancel()
        if self.running:
            self._sweeper = loop.call_later(SWEEP, self._sweep)


class _Read:
    __slots__ = ("cancelling", "deadline", "deadlines", "expired", "task")

    def __init__(self, deadlines: Deadlines) -> None:
        self.deadlines = deadlines
        self.expired = False

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        self.task, self.deadline = task, loop.time() + self.deadlines.bound
        self.cancelling = task.cancelling()
        deadlines = self.deadlines
        deadlines.running.add(self)
        if deadlines._sweeper is None:
            deadlines._sweeper = loop.call_later(SWEEP, deadlines._sweep)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.deadlines.running.discard(self)
        # As asyncio.timeout does: our cancellation is taken back, and only when nobody else's is pending does
        # the read end as out of time.
        if self.expired and self.task.uncancel() <= self.cancelling and kind is asyncio.CancelledError:
            raise DeadlineExceeded() from None
