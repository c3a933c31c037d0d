"""The resettlement saga on the real Kafka and PostgreSQL.

The registration side runs for real: its outbox relay publishes `resettlement-requested`
(and -withdrawn, -completed) to `registration.v1`, and its consumer handles quota events.
A scripted responder stands in for the quota service: it reads the real `registration.v1`
and answers with real quota.v1 contracts (reserved, denied, released, expired), including
duplicates and outcomes out of order. Its answers go to a topic of this run, so that the
consumer group sees only them (the contracts and the handlers are those of `quota.v1`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from support.kafka import wait_for

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner
from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.events.quota import (
    DenialReason,
    QuotaDenied,
    QuotaExpired,
    QuotaKind,
    QuotaReleased,
    QuotaReserved,
    ReleaseReason,
)
from koshiqon.common.outbox import OutboxRelay, RelayConfig
from koshiqon.common.topics import CONTEXT_TOPICS, TopicSpec, ensure_topics
from koshiqon.registration.entrypoints.consumer import subscription

pytestmark = pytest.mark.integration

SKO = "590000000"
NOW = datetime(2026, 2, 1, tzinfo=UTC)
Script = Callable[[Envelope], list[Envelope]]


def quota_event(payload: EventPayload) -> Envelope:
    application_id = str(payload.application_id)  # type: ignore[attr-defined]
    return make_event(
        payload,
        subject=application_id,
        source="/koshiqon/quota-responder",
        correlation_id=str(uuid.uuid4()),
    )


def facts(request: Envelope) -> dict[str, Any]:
    data = request.data
    return {
        "application_id": uuid.UUID(data["application_id"]),
        "kind": QuotaKind(data["category"]),
        "region": data["target_region"],
        "year": data["target_year"],
        "persons": data["persons"],
    }


QUOTA_ID = uuid.uuid4()


def reserved(request: Envelope) -> Envelope:
    return quota_event(
        QuotaReserved(**facts(request), quota_id=QUOTA_ID, remaining=10, reserved_at=NOW)
    )


def denied(request: Envelope) -> Envelope:
    return quota_event(
        QuotaDenied(**facts(request), reason=DenialReason.EXHAUSTED, remaining=0, denied_at=NOW)
    )


def released(request: Envelope, reason: ReleaseReason = ReleaseReason.WITHDRAWN) -> Envelope:
    return quota_event(
        QuotaReleased(**facts(request), quota_id=QUOTA_ID, reason=reason, released_at=NOW)
    )


def expired(request: Envelope) -> Envelope:
    return quota_event(
        QuotaExpired(
            **facts(request), quota_id=QUOTA_ID, period_end=date(2026, 12, 31), expired_at=NOW
        )
    )


class Responder:
    """Answers each application's registration.v1 events by the script given for it."""

    def __init__(self, bootstrap: str, quota_topic: str) -> None:
        self.bootstrap = bootstrap
        self.quota_topic = quota_topic
        self.scripts: dict[str, dict[str, Script]] = {}
        self.seen: list[Envelope] = []

    async def run(self, ready: asyncio.Event, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, isolation_level="read_committed"
        )
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True)
        await consumer.start()
        await producer.start()
        try:
            count = next(t.partitions for t in CONTEXT_TOPICS if t.name == "registration.v1")
            partitions = [TopicPartition("registration.v1", p) for p in range(count)]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:
                await consumer.position(tp)
            ready.set()
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                for records in batch.values():
                    for record in records:
                        await self._answer(producer, Envelope.from_bytes(record.value))
        finally:
            await consumer.stop()
            await producer.stop()

    async def _answer(self, producer: AIOKafkaProducer, envelope: Envelope) -> None:
        applicant = envelope.data.get("applicant_id")
        script = self.scripts.get(f"applicant:{applicant}", {}).get(envelope.name)
        if script is None:
            return
        self.seen.append(envelope)
        for answer in script(envelope):
            await producer.send_and_wait(
                self.quota_topic, answer.to_bytes(), key=answer.subject.encode()
            )


@contextlib.asynccontextmanager
async def saga(service: Any, bootstrap: str) -> AsyncIterator[Responder]:
    await service.client.get("/livez")  # the app is up
    quota_topic = f"quota.v1.saga-{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        bootstrap,
        [TopicSpec(quota_topic, partitions=3), TopicSpec("registration.v1", partitions=12)],
    )
    schema = service.schema
    relay = OutboxRelay(
        RelayConfig(
            dsn=schema.dsn,
            schema=schema.schema,
            bootstrap=bootstrap,
            service="registration",
            poll_interval=0.2,
        )
    )
    runner = ConsumerRunner(
        subscription(group=f"registration-saga-{uuid.uuid4().hex[:8]}", topics=(quota_topic,)),
        schema.sessions,
        ConsumerConfig(bootstrap=bootstrap, backoff_initial=0.05),
    )
    responder = Responder(bootstrap, quota_topic)
    stop, ready = asyncio.Event(), asyncio.Event()
    tasks = [
        asyncio.create_task(relay.run(stop)),
        asyncio.create_task(runner.run(stop)),
        asyncio.create_task(responder.run(ready, stop)),
    ]
    try:
        await asyncio.wait_for(ready.wait(), timeout=30)
        await asyncio.wait_for(runner.assigned.wait(), timeout=30)
        yield responder
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=60)


def status_is(service: Any, application: str, status: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        got = await service.client.get(
            f"/v1/resettlement-applications/{application}", headers=service.auth()
        )
        return bool(got.json()["status"] == status)

    return check


async def outbox_of(service: Any, application: str) -> list[str]:
    return list(await service.outbox_types(application))


async def test_the_saga(service: Any, bootstrap: str) -> None:
    async with saga(service, bootstrap) as responder:
        approve = {"resettlement-requested": lambda r: [reserved(r)]}
        deny = {"resettlement-requested": lambda r: [denied(r)]}
        release = {
            "resettlement-requested": lambda r: [reserved(r)],
            "resettlement-withdrawn": lambda r: [released(r)],
        }
        expire = {"resettlement-requested": lambda r: [reserved(r), expired(r)]}
        dup = {"resettlement-requested": lambda r: [e := reserved(r), e, e, reserved(r)]}
        out_of_order = {
            "resettlement-requested": lambda r: [
                released(r, ReleaseReason.CANCELLED),
                reserved(r),
                reserved(r),
            ]
        }
        scripts = {
            "approved": approve,
            "denied": deny,
            "released": release,
            "expired": expire,
            "duplicates": dup,
            "out-of-order": out_of_order,
        }
        apps: dict[str, str] = {}
        for name, script in scripts.items():
            apps[name] = await _apply_scripted(service, responder, script, family=1)

        await wait_for(status_is(service, apps["approved"], "approved"), timeout=30)
        await wait_for(status_is(service, apps["denied"], "rejected"), timeout=30)
        await wait_for(status_is(service, apps["expired"], "expired"), timeout=30)
        await wait_for(status_is(service, apps["duplicates"], "approved"), timeout=30)
        await wait_for(status_is(service, apps["released"], "approved"), timeout=30)
        withdrawn = await service.client.post(
            f"/v1/resettlement-applications/{apps['released']}/withdraw", headers=service.auth()
        )
        assert withdrawn.json()["status"] == "withdrawn"

        async def released_recorded() -> bool:
            stamp = await service.schema.scalar(
                "SELECT quota_released_at IS NOT NULL FROM resettlement_applications "
                "WHERE id = :id",
                id=uuid.UUID(apps["released"]),
            )
            return bool(stamp)

        await wait_for(released_recorded, timeout=30)
        # distinct quota events: 1 + 1 + 2 (released) + 2 (expired) + 2 (duplicates) + 3
        await wait_for(_processed(service, 11), timeout=30)

        # the outcomes, in the registration's own events
        assert await outbox_of(service, apps["approved"]) == [
            "resettlement-requested",
            "resettlement-approved",
        ]
        rejected = await service.client.get(
            f"/v1/resettlement-applications/{apps['denied']}", headers=service.auth()
        )
        assert rejected.json()["rejection_reason"] == "exhausted"
        assert await outbox_of(service, apps["duplicates"]) == [
            "resettlement-requested",
            "resettlement-approved",
        ]  # once, whatever the copies
        assert await outbox_of(service, apps["out-of-order"]) == ["resettlement-requested"]
        late = await service.client.get(
            f"/v1/resettlement-applications/{apps['out-of-order']}", headers=service.auth()
        )
        assert late.json()["status"] == "withdrawn"  # the late reservation resurrected nothing
        assert await outbox_of(service, apps["released"]) == [
            "resettlement-requested",
            "resettlement-approved",
            "resettlement-withdrawn",
        ]
        assert (
            await service.client.get(
                f"/v1/resettlement-applications/{apps['released']}", headers=service.auth()
            )
        ).json()["status"] == "withdrawn"

        # completion: the approved applicant registers permanently in the target region
        approved = (
            await service.client.get(
                f"/v1/resettlement-applications/{apps['approved']}", headers=service.auth()
            )
        ).json()
        registered = await service.residence(
            approved["applicant_id"],
            valid_from="2026-04-01",
            address={"kato": "591010000", "street": "Abaya", "building": "3"},
        )
        assert registered.status_code == 201, registered.text
        done = (
            await service.client.get(
                f"/v1/resettlement-applications/{apps['approved']}", headers=service.auth()
            )
        ).json()
        assert (done["status"], done["completed_on"], done["persons"]) == (
            "completed",
            "2026-04-01",
            2,
        )

        async def completed_published() -> bool:
            return any(e.name == "resettlement-completed" for e in responder.seen) or bool(
                await service.schema.scalar(
                    "SELECT count(*) FROM outbox WHERE key = :k AND published_at IS NOT NULL "
                    "AND event_type LIKE '%resettlement-completed%'",
                    k=apps["approved"],
                )
            )

        await wait_for(completed_published, timeout=30)


def _processed(service: Any, at_least: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return int(await service.schema.scalar("SELECT count(*) FROM processed_events")) >= (
            at_least
        )

    return check


async def _apply_scripted(
    service: Any, responder: Responder, script: dict[str, Script], *, family: int
) -> str:
    """Apply, with the responder ready to answer before the request can reach Kafka: the
    application id is chosen by the service, so the script is keyed by applicant until the
    relay's event names the application."""
    members = [await service.person() for _ in range(family)]
    applicant = await service.person()
    responder.scripts[f"applicant:{applicant}"] = script
    response = await service.client.post(
        "/v1/resettlement-applications",
        headers=service.auth(),
        json={
            "applicant_id": applicant,
            "category": "migrant",
            "target_region": SKO,
            "target_year": 2026,
            "family_member_ids": members,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
