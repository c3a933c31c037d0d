"""The reservation ledger through the handlers, on the real PostgreSQL with the real
migrations: outcomes, idempotency by application id, transitions once, thresholds, expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from quota.helpers import ACTOR, NORTH_KAZ, PAVLODAR, Clock, designate
from support.services import ServiceSchema

from koshiqon.quota import queries
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import (
    ReservationConflict,
    ReservationNotFound,
    ReservationState,
)
from koshiqon.quota.domain.model import (
    DenialReason,
    Kind,
    Outcome,
    Period,
    Quota,
    QuotaSpec,
    ReleaseReason,
    ReservationStatus,
    TerritoryKind,
)
from koshiqon.quota.entrypoints.scheduler import ExpiryScheduler

pytestmark = pytest.mark.integration


async def kandas_quota(
    bus: Bus, limit: int = 10, *, region: str = PAVLODAR, year: int = 2026
) -> Quota:
    await designate(bus, region, TerritoryKind.KANDAS)
    spec = QuotaSpec.of(
        kind=Kind.KANDAS, region=region, period=Period.of(year), category=None, limit=limit
    )
    return await bus.handle(c.EstablishQuota(spec, reference="order 1", actor=ACTOR))


def reserve(
    persons: int, *, app: uuid.UUID | None = None, region: str = PAVLODAR
) -> c.ReserveQuota:
    return c.ReserveQuota(app or uuid.uuid4(), Kind.KANDAS, region, 2026, persons, actor=ACTOR)


def consume(app: uuid.UUID) -> c.ConsumeReservation:
    return c.ConsumeReservation(app, actor=ACTOR)


def cancel(app: uuid.UUID) -> c.ReleaseReservation:
    return c.ReleaseReservation(app, ReleaseReason.CANCELLED, actor=ACTOR)


async def events(schema: ServiceSchema, name: str) -> int:
    sql = "SELECT count(*) FROM outbox WHERE event_type = :t"
    count = await schema.scalar(sql, t=f"kz.migration.quota.{name}.v1")
    assert isinstance(count, int)
    return count


async def test_reserve_consume_release_and_the_counters(bus: Bus, schema: ServiceSchema) -> None:
    quota = await kandas_quota(bus, 10)
    first, second = await bus.handle(reserve(4)), await bus.handle(reserve(3))
    assert first.outcome is Outcome.RESERVED
    assert first.quota_id == quota.id
    await bus.handle(consume(first.application_id))
    await bus.handle(cancel(second.application_id))
    after = await queries.get_quota(schema.engine, quota.id)
    assert (after.reserved, after.consumed, after.remaining) == (0, 4, 6)
    assert await events(schema, "quota-reserved") == 2
    assert await events(schema, "quota-consumed") == 1
    assert await events(schema, "quota-released") == 1


async def test_denials_say_why(bus: Bus, schema: ServiceSchema) -> None:
    no_quota = await bus.handle(reserve(1, region=NORTH_KAZ))
    assert (no_quota.outcome, no_quota.denial_reason) == (Outcome.DENIED, DenialReason.NO_QUOTA)
    await kandas_quota(bus, 5)
    await bus.handle(reserve(4))
    exhausted = await bus.handle(reserve(2))
    assert exhausted.denial_reason is DenialReason.EXHAUSTED
    assert exhausted.remaining_at_denial == 1
    assert await events(schema, "quota-denied") == 2


async def test_a_repeated_reserve_returns_the_first_outcome(
    bus: Bus, schema: ServiceSchema
) -> None:
    quota = await kandas_quota(bus, 5)
    app = uuid.uuid4()
    first = await bus.handle(reserve(3, app=app))
    again = await bus.handle(reserve(3, app=app))
    assert again.outcome is Outcome.RESERVED
    assert again.persons == 3
    with pytest.raises(ReservationConflict):  # other numbers: another request
        await bus.handle(reserve(5, app=app))
    denied_app = uuid.uuid4()
    assert (await bus.handle(reserve(5, app=denied_app))).outcome is Outcome.DENIED
    await bus.handle(cancel(first.application_id))
    assert (await bus.handle(reserve(5, app=denied_app))).outcome is Outcome.DENIED
    assert (await queries.get_quota(schema.engine, quota.id)).reserved == 0
    assert await events(schema, "quota-reserved") == 2  # the first, and the repeat's
    assert await events(schema, "quota-denied") == 2


async def test_each_transition_happens_once(bus: Bus, schema: ServiceSchema) -> None:
    quota = await kandas_quota(bus, 5)
    app = (await bus.handle(reserve(2))).application_id
    await bus.handle(consume(app))
    await bus.handle(consume(app))
    with pytest.raises(ReservationState):
        await bus.handle(cancel(app))
    with pytest.raises(ReservationNotFound):
        await bus.handle(cancel(uuid.uuid4()))
    q = await queries.get_quota(schema.engine, quota.id)
    assert (q.reserved, q.consumed) == (0, 2)
    assert await events(schema, "quota-consumed") == 1


async def test_a_withdrawal_before_its_request_leaves_a_tombstone(
    bus: Bus, schema: ServiceSchema
) -> None:
    quota = await kandas_quota(bus, 5)
    app = uuid.uuid4()
    tombstone = c.Tombstone(Kind.KANDAS, PAVLODAR, 2026, 2)
    withdrawn = await bus.handle(
        c.ReleaseReservation(app, ReleaseReason.WITHDRAWN, tombstone, actor=ACTOR)
    )
    assert withdrawn.status is ReservationStatus.WITHDRAWN
    late = await bus.handle(reserve(2, app=app))
    assert late.outcome is Outcome.WITHDRAWN
    assert (await queries.get_quota(schema.engine, quota.id)).reserved == 0


async def test_thresholds_are_announced_once_each(bus: Bus, schema: ServiceSchema) -> None:
    quota = await kandas_quota(bus, 10)
    await bus.handle(reserve(9))
    assert await events(schema, "quota-threshold-reached") == 1
    app = (await bus.handle(reserve(1))).application_id
    assert await events(schema, "quota-threshold-reached") == 2
    await bus.handle(cancel(app))
    await bus.handle(reserve(1))
    assert await events(schema, "quota-threshold-reached") == 2
    await bus.handle(c.AdjustQuota(quota.id, "more", "order 2", delta=5, actor=ACTOR))
    assert await events(schema, "quota-threshold-reached") == 2


async def test_an_excluded_territory_keeps_its_reservations_and_takes_no_new_ones(
    bus: Bus, schema: ServiceSchema, clock: Clock
) -> None:
    await kandas_quota(bus, 10)
    kept = await bus.handle(reserve(2))
    (territory,) = await queries.list_territories(
        schema.engine, region=PAVLODAR, kind=None, status=None, after=None, limit=5
    )
    await bus.handle(c.ExcludeTerritory(territory.id, clock().date(), "Decree 2", actor=ACTOR))
    refused = await bus.handle(reserve(1))
    assert refused.denial_reason is DenialReason.NOT_DESIGNATED
    consumed = await bus.handle(consume(kept.application_id))
    assert consumed.status is ReservationStatus.CONSUMED


async def test_the_worker_expires_reservations_when_the_period_ends(
    bus: Bus, schema: ServiceSchema, clock: Clock
) -> None:
    quota = await kandas_quota(bus, 10)
    await bus.handle(reserve(3))
    consumed = await bus.handle(reserve(2))
    await bus.handle(consume(consumed.application_id))
    scheduler = ExpiryScheduler(bus)
    assert await scheduler.run_once() == 0  # the period runs till 31 December
    clock.now = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert await scheduler.run_once() == 1
    assert await scheduler.run_once() == 0
    q = await queries.get_quota(schema.engine, quota.id)
    assert (q.reserved, q.consumed, q.status) == (0, 2, "closed")
    assert await events(schema, "quota-expired") == 1
