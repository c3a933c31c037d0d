"""Per-key order of the outbox relay whatever the commit timing (issue 12, item 1)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from support.kafka import envelopes, read_topic, wait_for
from support.selftest import Workspace, counted, create_topic, fresh_contract, unpublished
from support.selftest import running_relay as relay

from koshiqon.common import outbox
from koshiqon.common.kafka import producer_settings

pytestmark = pytest.mark.integration


class HookedProducer(AIOKafkaProducer):  # type: ignore[misc]
    """A real producer that runs `before_first_send` once, just before its first record:
    it lets other writers commit while the relay is in the middle of draining a backlog."""

    def __init__(self, before_first_send: Callable[[], Awaitable[None]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hook: Callable[[], Awaitable[None]] | None = before_first_send

    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        if self._hook is not None:
            hook, self._hook = self._hook, None
            await hook()
        return await super().send(*args, **kwargs)


async def test_a_late_commit_with_a_lower_id_is_published_before_the_same_keys_later_event(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract(partitions=3)
    await create_topic(bootstrap, topic)
    batch_size = 20
    first = counted(payload, key="late", seq=1)
    second = counted(payload, key="late", seq=2)

    # a writer takes the lowest id for key "late" and has not committed when the relay starts
    late_writer = ws.sessions()
    await late_writer.begin()
    await outbox.add(late_writer, first)
    backlog = [counted(payload, key=f"other-{i % 5}", seq=i) for i in range(batch_size * 4)]
    await ws.publish_via_outbox(*backlog)

    async def commit_then_write_again() -> None:
        # the first event commits while the relay drains the backlog, and the same key's
        # next event (a higher id) commits right after it, in the order the aggregate's lock
        # gives them
        await late_writer.commit()
        await late_writer.close()
        await ws.publish_via_outbox(second)

    def producers() -> AIOKafkaProducer:
        return HookedProducer(
            commit_then_write_again, **producer_settings(bootstrap, client_id="selftest-order")
        )

    total = len(backlog) + 2
    async with relay(ws, bootstrap, producers, batch_size=batch_size, max_batches_in_flight=1):
        records = await read_topic(bootstrap, topic.name, at_least=total, settle=2.0)
        await wait_for(lambda: _empty(ws), timeout=15)

    late = [e.data["seq"] for e in envelopes(records) if e.subject == "late"]
    assert list(dict.fromkeys(late)) == [1, 2]


async def _empty(ws: Workspace) -> bool:
    return await unpublished(ws) == 0
