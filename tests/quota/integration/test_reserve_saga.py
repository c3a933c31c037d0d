"""A repeated resettlement request through the real broker (issue 12, item 12): the quota
worker (`bootstrap.build_worker`) re-publishes the first outcome when registration asks again
under a new event id, so a lost quota-reserved heals; a request under the same application id
asking for other persons is a permanent refusal, dead-lettered once, and the consumer goes on
with the event behind it on the same partition."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from quota.helpers import ACTOR, PAVLODAR, designate
from quota.integration.test_sagas import handled, produce, requested, worker
from support.kafka import wait_for
from support.services import ServiceSchema

from koshiqon.common.events.envelope import Envelope
from koshiqon.quota import queries
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.model import Kind, Period, QuotaSpec, TerritoryKind

pytestmark = pytest.mark.integration

__all__ = ["worker"]  # the fixture, shared with test_sagas


async def outcomes_of(
    bootstrap: str, app: uuid.UUID, *, quota_id: str, count: int
) -> list[Envelope]:
    """The application's outcome events from this test's quota, one per event id (delivery
    is at least once; other tests' workers on the shared broker answer the same requests
    from quotas of their own), once `count` of them are on the topic."""
    consumer = AIOKafkaConsumer("quota.v1", bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    found: dict[uuid.UUID, Envelope] = {}
    try:
        async with asyncio.timeout(60):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for record in (r for rs in batch.values() for r in rs):
                    if record.key == str(app).encode():
                        event = Envelope.from_bytes(record.value)
                        if event.data.get("quota_id") == quota_id:
                            found[event.id] = event
    finally:
        await consumer.stop()
    return sorted(found.values(), key=lambda e: e.time)


async def dead_letters(bootstrap: str, group: str, key: str) -> list[dict[str, str]]:
    """The dlq.* headers of every record of `key` in the group's dead-letter topic."""
    consumer = AIOKafkaConsumer(f"{group}.dlq", bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=3000, max_records=1000)
        records = [r for rs in batch.values() for r in rs if r.key == key.encode()]
    finally:
        await consumer.stop()
    return [{k: v.decode() for k, v in r.headers if k.startswith("dlq.")} for r in records]


async def test_a_repeated_request_heals_and_a_conflicting_one_is_dead_lettered_once(
    bus: Bus, schema: ServiceSchema, worker: str, bootstrap: str
) -> None:
    await designate(bus, PAVLODAR, TerritoryKind.KANDAS)
    spec = QuotaSpec.of(kind=Kind.KANDAS, region=PAVLODAR, period=Period.of(2026),
                        category=None, limit=5)  # fmt: skip
    quota = await bus.handle(c.EstablishQuota(spec, actor=ACTOR))
    app = uuid.uuid4()
    first, repeat = requested(app, 3), requested(app, 3)  # two event ids, one request
    conflicting, behind = requested(app, 4), requested(app, 3)  # one key: in this order
    await produce(bootstrap, "registration.v1", [first, repeat, conflicting, behind])
    await wait_for(handled(schema, [first, repeat, behind]), timeout=60)
    outcomes = await outcomes_of(bootstrap, app, quota_id=str(quota.id), count=3)
    assert [e.name for e in outcomes] == ["quota-reserved"] * 3
    # the same figures and reserved_at; the repeats marked (counted once)
    assert [o.data["repeat"] for o in outcomes] == [False, True, True]
    assert outcomes[0].data == {**outcomes[1].data, "repeat": False}
    assert outcomes[0].data == {**outcomes[2].data, "repeat": False}
    assert outcomes[0].data["remaining"] == 2
    (letter,) = await dead_letters(bootstrap, worker, str(app))
    assert letter["dlq.error.type"] == "ReservationConflict"
    assert letter["dlq.original.offset"]  # dead-lettered once, not retried in a loop
    assert await schema.scalar(
        "SELECT count(*) FROM processed_events WHERE event_id = :id", id=conflicting.id
    ) == 0  # fmt: skip
    after_quota = await queries.get_quota(schema.engine, quota.id)
    assert after_quota.reserved == 3
