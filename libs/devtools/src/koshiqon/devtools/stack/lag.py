"""A consumer group's lag: the end offset of every partition of its topics less the offset
the group committed there (a partition it never committed counts from its start). Read with
the admin client's offset listing, which works against Kafka 4 (aiokafka's
describe_consumer_groups does not)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from koshiqon.common.kafka import security_settings


async def group_lag(bootstrap: str, groups: Mapping[str, Iterable[str]]) -> dict[str, int | None]:
    """Each group's total lag over its topics; None for a group the broker would not say."""
    admin = AIOKafkaAdminClient(**security_settings(), bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(**security_settings(), bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        out: dict[str, int | None] = {}
        for group, topics in groups.items():
            try:
                out[group] = await _lag(admin, consumer, group, list(topics))
            except Exception:  # the broker away, a topic missing: unknown, not zero
                out[group] = None
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def _lag(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str, topics: list[str]
) -> int:
    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        for p in sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
    ]
    committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.beginning_offsets(partitions)
    lag = 0
    for tp in partitions:
        meta = committed.get(tp)
        position = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
        lag += max(0, ends[tp] - position)
    return lag


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # the first look at a topic
    return consumer.partitions_for_topic(topic) or set()
