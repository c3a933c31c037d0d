"""Issue 12 item 10: the dead-letter topic. Its replication factor comes from configuration
(`ConsumerConfig.dlq_replication_factor`, the broker's `default.replication.factor` when
unset); a topic the broker refuses to create is an error, not silence; and a readiness check
(`health.dlq_check`, the consumer's `readiness_check()`) fails while the group's DLQ topic is
missing. The local broker is a single node, so a factor of 3 is what it must refuse."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import InvalidReplicationFactorError

from koshiqon.common import health
from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription
from koshiqon.common.topics import TopicSpec, dlq_topic, ensure_topics, topic_exists

pytestmark = pytest.mark.integration


async def replication_factor(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return len(described["partitions"][0]["replicas"])


async def test_a_topic_the_broker_refuses_is_an_error(bootstrap: str) -> None:
    spec = TopicSpec(f"selftest.{uuid.uuid4().hex[:12]}.v1", partitions=1)
    with pytest.raises(InvalidReplicationFactorError, match=spec.name):
        await ensure_topics(bootstrap, [spec], replication_factor=3)
    assert not await topic_exists(bootstrap, spec.name)


async def test_an_unset_replication_factor_is_the_brokers_default(bootstrap: str) -> None:
    spec = TopicSpec(f"selftest.{uuid.uuid4().hex[:12]}.v1", partitions=1)
    await ensure_topics(bootstrap, [spec])
    await ensure_topics(bootstrap, [spec])  # an existing topic is fine
    assert await replication_factor(bootstrap, spec.name) == 1  # the local broker's default


async def test_the_consumer_creates_its_dlq_with_the_configured_factor_or_does_not_consume(
    bootstrap: str,
) -> None:
    source = TopicSpec(f"selftest.{uuid.uuid4().hex[:12]}.v1", partitions=1)
    await ensure_topics(bootstrap, [source])
    group = f"g-{uuid.uuid4().hex[:8]}"
    config = ConsumerConfig(bootstrap=bootstrap, dlq_replication_factor=3, backoff_max=0.2)
    subscription = Subscription(group=group, topics=[source.name], handlers={})
    refused = ConsumerRunner(subscription, sessions=None, config=config)  # type: ignore[arg-type]
    check = refused.readiness_check()
    stop = asyncio.Event()
    task = asyncio.create_task(refused.run(stop))
    try:
        for _ in range(300):
            if refused.start_failures >= 2:
                break
            await asyncio.sleep(0.1)
        assert refused.start_failures >= 2  # it keeps trying, and says so, but never starts
        assert not refused.assigned.is_set()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    readiness = await health.run_checks([check], seconds_each=10)
    assert readiness.failing == [check.name]
    assert dlq_topic(group).name in str(readiness.results[check.name])

    config.dlq_replication_factor = 1
    accepted = ConsumerRunner(subscription, sessions=None, config=config)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(accepted.run(stop))
    try:
        await asyncio.wait_for(accepted.assigned.wait(), timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert await replication_factor(bootstrap, dlq_topic(group).name) == 1
    fresh = accepted.readiness_check()
    assert (await health.run_checks([fresh], seconds_each=10)).ready
