"""Quota outcomes for reservations registration never requested (issue 12 item 13), through the
real consumer on the real Kafka and PostgreSQL: handled and counted, never dead-lettered, and
nothing written but the consumer's own processed_events row."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from support.kafka import wait_for

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner
from koshiqon.common.events import quota as wire
from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.topics import TopicSpec, ensure_topics
from koshiqon.registration.entrypoints.consumer import subscription

pytestmark = pytest.mark.integration

AT = datetime(2026, 5, 1, tzinfo=UTC)


def outcomes(application_id: uuid.UUID) -> list[EventPayload]:
    """What quota publishes for a foreign labour reservation made over its API."""
    facts: dict[str, Any] = {
        "application_id": application_id, "kind": wire.QuotaKind.FOREIGN_LABOUR,
        "region": "750000000", "year": 2026, "persons": 3,
    }  # fmt: skip
    quota_id = uuid.uuid4()
    return [
        wire.QuotaReserved(**facts, quota_id=quota_id, remaining=7, reserved_at=AT),
        wire.QuotaReleased(
            **facts, quota_id=quota_id, reason=wire.ReleaseReason.CANCELLED, released_at=AT
        ),
        wire.QuotaExpired(**facts, quota_id=quota_id, period_end=date(2026, 12, 31), expired_at=AT),
        wire.QuotaDenied(
            **{**facts, "application_id": uuid.uuid4()},
            reason=wire.DenialReason.EXHAUSTED, remaining=0, denied_at=AT,
        ),
    ]  # fmt: skip


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_outcomes_of_reservations_registration_never_requested_are_ignored(
    service: Any, bootstrap: str
) -> None:
    topic, group = f"quota.v1.unrequested-{uuid.uuid4().hex[:8]}", f"reg-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [TopicSpec(topic, partitions=2)])
    runner = ConsumerRunner(
        subscription(group=group, topics=(topic,)),
        service.schema.sessions,
        ConsumerConfig(bootstrap=bootstrap, backoff_initial=0.05),
    )
    events = outcomes(uuid.uuid4())
    ignored = "koshiqon_registration_quota_outcomes_ignored_total"
    before = {e.contract.name: counted(ignored, event=e.contract.name) for e in events}
    applications = await service.count("resettlement_applications")
    published = await service.count("outbox")
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await asyncio.wait_for(runner.assigned.wait(), timeout=30)
        for payload in events:
            envelope = make_event(
                payload, subject=str(payload.application_id),  # type: ignore[attr-defined]
                source="/koshiqon/quota", correlation_id=str(uuid.uuid4()),
            )  # fmt: skip
            await producer.send_and_wait(topic, envelope.to_bytes(), key=envelope.subject.encode())

        async def all_handled() -> bool:
            return await service.count("processed_events", consumer=group) == len(events)

        await wait_for(all_handled, timeout=30)
    finally:
        stop.set()
        await producer.stop()
        await asyncio.wait_for(task, timeout=60)
    consumed = "koshiqon_consumer_events_total"
    assert counted(consumed, group=group, outcome="handled") == len(events)
    assert counted(consumed, group=group, outcome="dead-lettered") == 0
    for e in events:
        assert counted(ignored, event=e.contract.name) == before[e.contract.name] + 1
    assert await service.count("resettlement_applications") == applications
    assert await service.count("outbox") == published  # no event in answer
