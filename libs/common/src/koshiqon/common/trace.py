"""Identifiers of W3C Trace Context and of correlation: new trace, span and correlation ids.

They name requests and events; they are not secrets, so they come from the process's
pseudo-random generator (`random.getrandbits`, reseeded in a forked child) rather than the
kernel's entropy source: a `uuid.uuid4()` or `secrets.token_hex` is a system call, and a
request needs three of them. OpenTelemetry's own id generator does the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from random import getrandbits


def nonzero_hex(bits: int, *, draw: Callable[[int], int] = getrandbits) -> str:
    """`bits` random bits as lowercase hex digits, drawn again if all are zero (W3C Trace
    Context makes an all-zero trace or span id invalid)."""
    while True:
        value = draw(bits)
        if value:
            return f"{value:0{bits // 4}x}"


def new_trace_id() -> str:
    """32 lowercase hex digits, never all zero."""
    return nonzero_hex(128)


def new_span_id() -> str:
    """16 lowercase hex digits, never all zero."""
    return nonzero_hex(64)


def new_traceparent() -> str:
    """The `traceparent` of a new trace, sampled (flags 01)."""
    return f"00-{new_trace_id()}-{new_span_id()}-01"


def new_correlation_id() -> str:
    """A version 4 UUID in its canonical text form."""
    return str(uuid.UUID(int=getrandbits(128), version=4))
