"""The edges of the resettlement saga on quota's side, through `bootstrap` with the in-memory
unit of work (quota/fakes.py): a completion that comes after its reservation expired or was
released (issue 12 item 14), and years in Kazakhstan's time: the expiry job, and an order for
a year that has already ended (item 15)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from quota.fakes import FakeUnitOfWork
from quota.helpers import ACTOR, PAVLODAR, Clock
from quota.unit.test_handlers import counters, quota, reserve

from koshiqon.common.events import quota as wire
from koshiqon.common.events import registration
from koshiqon.quota.bootstrap import bootstrap
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import InvalidOrder
from koshiqon.quota.domain.model import (
    DenialReason,
    Kind,
    QuotaStatus,
    ReleaseReason,
    ReservationStatus,
)
from koshiqon.quota.entrypoints.scheduler import ExpiryScheduler
from koshiqon.quota.handlers import EVENT_HANDLERS

REFUSED = "koshiqon_quota_consumption_refused_total"


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bus(uow: FakeUnitOfWork, clock: Clock) -> Bus:
    return bootstrap(lambda: uow, now=clock)


def refused(status: str) -> float:
    return REGISTRY.get_sample_value(REFUSED, {"status": status}) or 0.0


def completed(application_id: uuid.UUID, persons: int) -> registration.ResettlementCompleted:
    return registration.ResettlementCompleted(
        application_id=application_id, applicant_id=uuid.uuid4(),
        category=registration.ResettlementCategory.MIGRANT, target_region="550000000",
        target_year=2026, persons=persons, settlement="551010000", completed_on=date(2027, 1, 3),
    )  # fmt: skip


async def complete(bus: Bus, application_id: uuid.UUID, persons: int) -> None:
    event = completed(application_id, persons)
    await EVENT_HANDLERS[registration.ResettlementCompleted](event, bus.deps)


# --- item 14: a completion after expiry or release ---------------------------------------


async def test_a_completion_after_the_expiry_is_refused_with_an_event_and_counted(
    bus: Bus, uow: FakeUnitOfWork, clock: Clock
) -> None:
    q = await quota(bus)
    reservation = await reserve(bus, 3)
    assert await bus.handle(c.ExpireReservations(date(2027, 1, 1), actor=ACTOR)) == 1
    before = refused("expired")

    await complete(bus, reservation.application_id, 3)

    assert uow.state.reservations[reservation.application_id].status is ReservationStatus.EXPIRED
    assert counters(uow, q.id) == (10, 0, 0)  # nothing consumed
    last = uow.published[-1]
    assert last.subject == str(reservation.application_id)
    assert last.payload == wire.QuotaConsumptionRefused(
        application_id=reservation.application_id, quota_id=q.id, kind=wire.QuotaKind.MIGRANT,
        region="550000000", year=2026, persons=3, status=wire.UnheldStatus.EXPIRED,
        reason=wire.ConsumptionRefusal.PERIOD_ENDED, refused_at=clock.now,
    )  # fmt: skip
    assert refused("expired") == before + 1


async def test_a_completion_after_a_release_is_refused_with_its_reason(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus)
    reservation = await reserve(bus, 2)
    cancel = c.ReleaseReservation(reservation.application_id, ReleaseReason.CANCELLED, actor=ACTOR)
    await bus.handle(cancel)
    before = refused("released")

    consumed = await bus.handle(c.ConsumeReservation(reservation.application_id, actor=ACTOR))

    assert consumed.status is ReservationStatus.RELEASED
    assert counters(uow, q.id) == (10, 0, 0)
    payload = uow.published[-1].payload
    assert isinstance(payload, wire.QuotaConsumptionRefused)
    assert (payload.status, payload.reason) == (
        wire.UnheldStatus.RELEASED,
        wire.ConsumptionRefusal.CANCELLED,
    )
    assert refused("released") == before + 1


async def test_a_repeated_completion_of_a_consumed_reservation_stays_silent(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    await quota(bus)
    reservation = await reserve(bus, 1)
    await complete(bus, reservation.application_id, 1)
    published = len(uow.published)
    await complete(bus, reservation.application_id, 1)
    assert len(uow.published) == published
    assert uow.published_types()[-1] == "quota-consumed"


# --- item 15: "the current year" is Kazakhstan's ------------------------------------------

NEW_YEAR_IN_KAZAKHSTAN = datetime(2026, 12, 31, 19, 30, tzinfo=UTC)  # 00:30 on 1 January 2027

ORDER = "year,kind,kato,region,persons\n2026,migrant,550000000,Pavlodar,40\n"


def import_order(name: str = "order 2026") -> c.ImportQuotaOrder:
    return c.ImportQuotaOrder(csv_text=ORDER, order=name, actor=ACTOR)


async def test_an_order_for_a_year_ended_in_kazakhstan_is_recorded_as_history(
    bus: Bus, uow: FakeUnitOfWork, clock: Clock
) -> None:
    clock.now = NEW_YEAR_IN_KAZAKHSTAN  # still 2026 in UTC
    imported = await bus.handle(import_order())

    (q,) = imported.quotas
    assert q.status is QuotaStatus.CLOSED
    assert imported.territories == []  # a past order designates nothing today
    assert not uow.state.territories
    established = uow.published[-1].payload
    assert isinstance(established, wire.QuotaEstablished)
    assert established.closed is True
    late = await bus.handle(
        c.ReserveQuota(uuid.uuid4(), Kind.MIGRANT, PAVLODAR, 2026, 1, actor=ACTOR)
    )
    assert (late.status, late.denial_reason) == (ReservationStatus.DENIED, DenialReason.NO_QUOTA)
    with pytest.raises(InvalidOrder):  # the history is recorded once
        await bus.handle(import_order("order 2026, again"))


async def test_an_order_for_the_current_year_in_kazakhstan_is_active(
    bus: Bus, uow: FakeUnitOfWork, clock: Clock
) -> None:
    clock.now = NEW_YEAR_IN_KAZAKHSTAN - timedelta(hours=1)  # 23:30 on 31 December there
    imported = await bus.handle(import_order())
    (q,) = imported.quotas
    assert q.status is QuotaStatus.ACTIVE
    assert len(imported.territories) == 1
    established = [e.payload for e in uow.published if isinstance(e.payload, wire.QuotaEstablished)]
    assert [e.closed for e in established] == [False]


async def test_reservations_expire_at_midnight_in_kazakhstan(
    bus: Bus, uow: FakeUnitOfWork, clock: Clock
) -> None:
    await quota(bus)
    await reserve(bus, 2)
    scheduler = ExpiryScheduler(bus)
    clock.now = NEW_YEAR_IN_KAZAKHSTAN - timedelta(hours=1)
    assert await scheduler.run_once() == 0
    clock.now = NEW_YEAR_IN_KAZAKHSTAN
    assert await scheduler.run_once() == 1
    assert uow.published_types()[-1] == "quota-expired"


async def test_a_reservation_after_midnight_in_kazakhstan_is_in_the_new_year(
    bus: Bus, clock: Clock
) -> None:
    """19:30 UTC on 31 December is 00:30 on 1 January in Kazakhstan: the 2026 quota's year
    has ended there, so a reservation on it is denied (no open quota), not granted on UTC's
    calendar."""
    await quota(bus)
    clock.now = datetime(2026, 12, 31, 18, 30, tzinfo=UTC)  # 23:30 in Kazakhstan
    assert (await reserve(bus, 1)).status is ReservationStatus.RESERVED
    clock.now = datetime(2026, 12, 31, 19, 30, tzinfo=UTC)
    late = await reserve(bus, 1)
    assert late.status is ReservationStatus.DENIED
    assert late.denial_reason is DenialReason.NO_QUOTA
