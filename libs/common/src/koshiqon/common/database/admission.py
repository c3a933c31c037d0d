"""First come, first served: the order in which units of work get a connection of the pool.

SQLAlchemy's async pool hands a returned connection to whichever task asks next, and a
task that was woken to take it but finds it gone (another task asked in the same turn of
the event loop) queues again at the back. Under pool pressure that is unbounded: most
requests get a connection soon, some wait round after round. On one hot quota with 200
concurrent reservers and a pool of 10 the p99 latency was four to five times the median
(`bench/quota_contention.py`), while every request did the same work.

An `Admission` in front of the pool (`admission(engine)`, taken by each owned unit of work
before its checkout, given back after the connection is) lets tasks through in the order
they came, `places` at a time. It admits a few more than the pool holds, so that a returned
connection always has an admitted task asking for it at once: the order inside that small
group is the pool's, the order of everyone behind it is arrival. A task cancelled while it
waits (a client that left) gives its place to the next.
"""

from __future__ import annotations

import asyncio
import weakref

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool

ADMITTED_PER_CONNECTION = 2
"""Tasks admitted per connection of the pool: one using it, one asking for it next."""


class Admission:
    """At most `places` holders; the others wait in the order they came (asyncio's
    semaphore is first in, first out: a newcomer does not pass a waiter)."""

    def __init__(self, places: int) -> None:
        if places < 1:
            raise ValueError("an admission needs at least one place")
        self.places = places
        self._semaphore = asyncio.Semaphore(places)
        self._waiting = 0
        self._inside = 0

    @property
    def waiting(self) -> int:
        """Tasks waiting to be admitted."""
        return self._waiting

    @property
    def inside(self) -> int:
        """Tasks admitted that have not left."""
        return self._inside

    async def enter(self) -> None:
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
        self._inside += 1

    def leave(self) -> None:
        self._inside -= 1
        self._semaphore.release()


# One admission per pool and event loop (a semaphore belongs to the loop that first waits
# on it; a test suite runs engines on several loops one after the other).
_ADMISSIONS: weakref.WeakKeyDictionary[Pool, tuple[asyncio.AbstractEventLoop, Admission]] = (
    weakref.WeakKeyDictionary()
)


def admission(engine: AsyncEngine) -> Admission:
    """The admission in front of `engine`'s pool, for the running event loop."""
    pool = engine.sync_engine.pool
    loop = asyncio.get_running_loop()
    found = _ADMISSIONS.get(pool)
    if found is None or found[0] is not loop:
        found = (loop, Admission(places_for(pool)))
        _ADMISSIONS[pool] = found
    return found[1]


def places_for(pool: Pool) -> int:
    """`ADMITTED_PER_CONNECTION` per connection the pool can hold (its size and overflow)."""
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    connections = (size() if callable(size) else 1) + max(int(overflow), 0)
    return max(connections, 1) * ADMITTED_PER_CONNECTION
