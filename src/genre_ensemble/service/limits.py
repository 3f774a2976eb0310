"""Bounded work for the service: a fixed number of classifications at once, a bounded queue.

A request is *admitted* when it arrives (before its upload is read) only while fewer than
``concurrent + queue`` requests are admitted; the others get 503 at once, without the server
reading their bodies. An admitted request streams its upload to disk, then waits at most
``wait_seconds`` for one of ``concurrent`` work slots, else 503. So at most ``concurrent``
files are decoded and classified at a time (what bounds memory) and at most ``concurrent +
queue`` uploads are on disk. Every 503 says, in ``Retry-After``, when to try again: the recent
mean classification time times the requests ahead, divided by the slots.

Everything here runs on the server's one event loop (no locks needed).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

# Recent classifications whose mean duration sets Retry-After.
RECENT = 20
# Retry-After before any classification finished, seconds.
FIRST_GUESS_SECONDS = 2.0


class BusyError(Exception):
    """No room for the request now; ``retry_after`` (whole seconds) says when to try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkLimiter:
    """Admission, queue and work slots of the service (see the module's docstring).

    Parameters
    ----------
    concurrent : int
        Classifications that run at once (>= 1).
    queue : int
        Admitted requests beyond those (uploading or waiting for a slot), >= 0.
    wait_seconds : float
        Longest wait for a work slot once the upload is in, seconds.
    """

    def __init__(self, *, concurrent: int, queue: int, wait_seconds: float) -> None:
        if concurrent < 1 or queue < 0 or wait_seconds < 0:
            raise ValueError(f"bad limits: concurrent={concurrent}, queue={queue}, "
                             f"wait_seconds={wait_seconds}")
        self.concurrent = concurrent
        self.queue = queue
        self.wait_seconds = wait_seconds
        self.admitted = 0
        self.waiting = 0
        self.running = 0
        self.rejected = 0
        self.completed = 0
        self._slots = asyncio.Semaphore(concurrent)
        self._durations: deque[float] = deque(maxlen=RECENT)

    def retry_after(self) -> int:
        """Seconds until a slot is likely free for a new request (at least 1)."""
        mean = (sum(self._durations) / len(self._durations)) if self._durations else \
            FIRST_GUESS_SECONDS
        ahead = self.admitted + 1
        return max(1, math.ceil(mean * ahead / self.concurrent))

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold one of the ``concurrent + queue`` places for the whole request.

        Raises
        ------
        BusyError
            When every place is taken.
        """
        if self.admitted >= self.concurrent + self.queue:
            self.rejected += 1
            raise BusyError(
                f"the service is busy ({self.running} file(s) being classified, "
                f"{self.admitted - self.running} uploading or waiting): try again in "
                f"{self.retry_after()} s", self.retry_after())
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait (at most ``wait_seconds``) for a work slot and hold it.

        Raises
        ------
        BusyError
            When no slot came free in time.
        """
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.wait_seconds)
        except TimeoutError:
            self.rejected += 1
            raise BusyError(
                f"the service is busy: no classification slot came free within "
                f"{self.wait_seconds:g} s, try again in {self.retry_after()} s",
                self.retry_after()) from None
        finally:
            self.waiting -= 1
        self.running += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.running -= 1
            self.completed += 1
            self._durations.append(time.perf_counter() - started)
            self._slots.release()

    def state(self) -> dict[str, int | float]:
        """What /health reports: the limits and what is admitted, waiting, running."""
        return {"concurrent": self.concurrent, "queue": self.queue,
                "wait_seconds": self.wait_seconds, "admitted": self.admitted,
                "waiting": self.waiting, "running": self.running,
                "completed": self.completed, "rejected_busy": self.rejected}
