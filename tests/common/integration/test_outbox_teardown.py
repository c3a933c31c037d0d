"""A producer the ack watchdog gives up on is torn down for good (issue 12, item 3): its
sender task ends and its connections close, even when its stop() never finishes."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from support.kafka import read_topic, wait_for
from support.selftest import Workspace, counted, create_topic, fresh_contract
from support.selftest import running_relay as relay

from koshiqon.common.kafka import producer_settings

pytestmark = pytest.mark.integration


class WedgedProducer(AIOKafkaProducer):  # type: ignore[misc]
    """A real producer, connected to the real broker, whose sender stops sending: records
    pile up unacknowledged and stop() waits for them forever, as a producer wedged after a
    broker restart does (aiokafka issue 1017). The broker cannot be made to do this on cue."""

    async def start(self) -> None:
        await super().start()
        sender = self._sender
        sender.sender_task.remove_done_callback(sender._fail_all)
        sender.sender_task.cancel()
        sender._sender_task = asyncio.create_task(asyncio.sleep(3600))


async def test_a_stalled_producer_is_closed_for_good_when_it_is_replaced(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    made: list[AIOKafkaProducer] = []

    def producers() -> AIOKafkaProducer:
        settings = producer_settings(bootstrap, client_id=f"selftest-wedged-{len(made)}")
        made.append(WedgedProducer(**settings) if not made else AIOKafkaProducer(**settings))
        return made[-1]

    await ws.publish_via_outbox(*[counted(payload, key="k", seq=i) for i in range(10)])
    async with relay(ws, bootstrap, producers, ack_timeout=1.0, producer_close_timeout=1.0):
        records = await read_topic(bootstrap, topic.name, at_least=10, timeout=30)
        wedged = made[0]
        await wait_for(lambda: _torn_down(wedged), timeout=10)
    assert len(records) >= 10
    assert isinstance(wedged, WedgedProducer)


async def _torn_down(producer: AIOKafkaProducer) -> bool:
    sender_done = producer._sender.sender_task.done()
    connected = [conn for conn in producer.client._conns.values() if conn.connected()]
    return bool(sender_done and not connected)
