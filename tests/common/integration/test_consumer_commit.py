"""Issue 12 item 11: an offset commit that fails keeps its offsets pending, so the next
commit carries them (before, they were dropped, and a partition that then went quiet kept
its old committed offset: its events were redelivered to the next owner)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from support.kafka import wait_for
from support.selftest import Workspace, counted, create_topic, fresh_contract, record_effect

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription

pytestmark = pytest.mark.integration


async def committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def test_a_failed_offset_commit_is_carried_by_the_next_commit(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=2)
    await create_topic(bootstrap, topic)
    group = f"g-{uuid.uuid4().hex[:8]}"
    config = ConsumerConfig(bootstrap=bootstrap)
    handlers = {payload.contract.type: record_effect}
    subscription = Subscription(group=group, topics=[topic.name], handlers=handlers)
    runner = ConsumerRunner(subscription, ws.sessions, config)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    p0, p1 = TopicPartition(topic.name, 0), TopicPartition(topic.name, 1)
    try:
        await asyncio.wait_for(runner.assigned.wait(), timeout=60)
        config.kafka_timeout = 0  # every commit now times out before it reaches the broker
        first = counted(payload, key="a", seq=1)
        await producer.send_and_wait(topic.name, first.to_bytes(), key=b"a", partition=0)

        async def commit_failed() -> bool:
            return runner.commit_failures >= 1

        await wait_for(commit_failed, timeout=60)
        assert await committed(bootstrap, group) == {}
        config.kafka_timeout = 60.0
        second = counted(payload, key="b", seq=2)
        await producer.send_and_wait(topic.name, second.to_bytes(), key=b"b", partition=1)

        async def second_committed() -> bool:
            return (await committed(bootstrap, group)).get(p1) == 1

        await wait_for(second_committed, timeout=60)
        assert await committed(bootstrap, group) == {p0: 1, p1: 1}
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
    assert await ws.scalar("SELECT count(*) FROM effects") == 2
