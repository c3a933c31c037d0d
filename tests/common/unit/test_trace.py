"""New trace, span and correlation ids (`koshiqon.common.trace`)."""

from __future__ import annotations

import os
import re
import uuid

import pytest

from koshiqon.common.events.envelope import TRACEPARENT_PATTERN
from koshiqon.common.trace import (
    new_correlation_id,
    new_span_id,
    new_trace_id,
    new_traceparent,
    nonzero_hex,
)


def test_ids_have_the_w3c_shapes() -> None:
    for _ in range(1000):
        trace_id, span_id = new_trace_id(), new_span_id()
        assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
        assert re.fullmatch(r"[0-9a-f]{16}", span_id)
        assert int(trace_id, 16) != 0
        assert int(span_id, 16) != 0
        assert TRACEPARENT_PATTERN.match(new_traceparent())


def test_ids_do_not_repeat() -> None:
    count = 20_000
    assert len({new_trace_id() for _ in range(count)}) == count
    assert len({new_span_id() for _ in range(count)}) == count
    assert len({new_correlation_id() for _ in range(count)}) == count


def test_an_all_zero_draw_is_drawn_again() -> None:
    """W3C Trace Context makes an all-zero trace or span id invalid."""
    draws = iter([0, 0, 7])
    assert nonzero_hex(128, draw=lambda _bits: next(draws)) == "0" * 31 + "7"
    draws = iter([0, 0xAB])
    assert nonzero_hex(64, draw=lambda _bits: next(draws)) == "0" * 14 + "ab"


def test_correlation_id_is_a_canonical_version_4_uuid() -> None:
    text = new_correlation_id()
    parsed = uuid.UUID(text)
    assert str(parsed) == text
    assert parsed.version == 4
    assert parsed.variant == uuid.RFC_4122


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_draws_other_ids_than_its_parent() -> None:
    """Workers forked from one parent (uvicorn --workers, multiprocessing) must not repeat
    each other's ids: the generator is reseeded in the child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, new_trace_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert child != new_trace_id()
