"""The topics the project owns, with their partition counts. The broker never creates topics
by itself (auto.create.topics.enable=false): `ensure_topics` does, idempotently."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    config: dict[str, str] = field(default_factory=dict)


CONTEXT_TOPICS = (
    TopicSpec("registration.v1", partitions=12),
    TopicSpec("quota.v1", partitions=6),
    TopicSpec("proposals.v1", partitions=3),
    TopicSpec("monitoring.v1", partitions=3),
)


def dlq_topic(group: str) -> TopicSpec:
    """The dead-letter topic of a consumer group: one partition keeps its replay in order."""
    return TopicSpec(f"{group}.dlq", partitions=1, config={"retention.ms": str(30 * 86_400_000)})


async def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec], *, replication_factor: int = 1
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(s.name, s.partitions, replication_factor, topic_configs=s.config)
            for s in specs
            if s.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently
                await admin.create_topics(missing)
    finally:
        await admin.close()


async def topic_exists(bootstrap: str, name: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return name in set(await admin.list_topics())
    finally:
        await admin.close()
