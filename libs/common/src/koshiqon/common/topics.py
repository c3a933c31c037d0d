"""The topics the project owns, with their partition counts. The broker never creates topics
by itself (auto.create.topics.enable=false): `ensure_topics` does, idempotently, and raises
what the broker refuses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from koshiqon.common.kafka import security_settings


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
    bootstrap: str, specs: Iterable[TopicSpec], *, replication_factor: int | None = None
) -> None:
    """Create the topics of `specs` that do not exist yet, each with `replication_factor`
    replicas (None: the broker's `default.replication.factor`). A topic the broker refuses
    to create raises that refusal (`InvalidReplicationFactorError`, a policy violation...);
    one created concurrently by another process is fine."""
    admin = AIOKafkaAdminClient(**security_settings(), bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return
        factor = replication_factor or await _default_replication_factor(admin)
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, factor, topic_configs=s.config) for s in wanted]
        )
        _raise_refusals(response.topic_errors)
    finally:
        await admin.close()


def _raise_refusals(topic_errors: Iterable[tuple[Any, ...]]) -> None:
    """`create_topics` reports each topic's outcome in the response and raises nothing."""
    for name, code, *rest in topic_errors:
        if code in (0, TopicAlreadyExistsError.errno):
            continue
        message = rest[0] if rest and rest[0] else ""
        raise for_code(code)(f"topic {name!r} was not created: {message}".rstrip(": "))


async def _default_replication_factor(admin: AIOKafkaAdminClient) -> int:
    """The cluster's `default.replication.factor`, read from one of its brokers.
    CreateTopics before v4 (all aiokafka speaks) cannot ask for "the default" with -1."""
    cluster = await admin.describe_cluster()
    broker = str(cluster["brokers"][0]["node_id"])
    (response,) = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.BROKER, broker, {"default.replication.factor": None})]
    )
    for resource in response.resources:
        for entry in resource[4]:
            if entry[0] == "default.replication.factor":
                return int(entry[1])
    raise KafkaError("the broker did not report its default.replication.factor")


async def topic_exists(bootstrap: str, name: str) -> bool:
    admin = AIOKafkaAdminClient(**security_settings(), bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return name in set(await admin.list_topics())
    finally:
        await admin.close()
