"""The cyclic garbage collector, set for a long-running service process (`service.run`).

CPython's defaults collect the youngest generation every 700 net allocations of container
objects. A service under load has hundreds of requests in flight, each holding coroutines,
frames, dicts and futures that live for the request's whole span: each young collection
walks them, promotes them, and a middle collection walks them again, while almost nothing
they find is garbage (a request's objects are freed by reference counting when it ends).
On the hot quota (`bench/quota_contention.py`, 200 concurrent reservers) that was about a
quarter of the API process's CPU: 1.2 of 4.8 s in 4,800 requests, and full collections of
100-160 ms each stopped every request in flight.

Two settings end that:

- `young_threshold` (`<SERVICE>_GC_YOUNG_THRESHOLD`, 50,000 by default): a young collection
  every that many net allocations, so that one walks what is alive at that moment, not the
  same objects over and over. The older generations keep their thresholds, relative to it.
- `freeze`, once the process has started: what the imports and the composition root built
  lives as long as the process; `gc.freeze` moves it out of the collector's sight, so that
  a full collection walks only what was made since.

Cyclic garbage waits longer for its collection: at most `young_threshold` objects of it,
a few megabytes.
"""

from __future__ import annotations

import gc

DEFAULT_YOUNG_THRESHOLD = 50_000


def tune(young_threshold: int = DEFAULT_YOUNG_THRESHOLD) -> None:
    """Collect the youngest generation every `young_threshold` net allocations."""
    if young_threshold < 1:
        raise ValueError("the young generation's threshold must be positive")
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


def freeze() -> None:
    """After startup: collect what startup left as garbage, then keep everything alive now
    out of later collections (`gc.freeze`)."""
    gc.collect()
    gc.freeze()


__all__ = ["DEFAULT_YOUNG_THRESHOLD", "freeze", "tune"]
