"""Registration's side of the resettlement saga, driven through `bootstrap` with the fake unit
of work and a clock the test moves: applications left pending_quota are asked again, quota
outcomes for applications registration never requested are ignored, and days are
Kazakhstan's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from registration.unit.conftest import FakeUnitOfWork, Store
from registration.unit.test_handlers import MINISTRY, new_person, new_residence

from koshiqon.common.errors import InvalidInput
from koshiqon.common.events import quota as wire
from koshiqon.common.events.registration import ResettlementRequested
from koshiqon.registration.bootstrap import bootstrap
from koshiqon.registration.bus import Bus
from koshiqon.registration.domain import commands as c
from koshiqon.registration.domain.model import LegalStatus, ResidenceKind, StayPurpose
from koshiqon.registration.domain.resettlement import (
    ApplicationStatus,
    ResettlementApplication,
    ResettlementCategory,
)
from koshiqon.registration.entrypoints.scheduler import ExpiryScheduler, PendingQuotaScheduler
from koshiqon.registration.handlers import EVENT_HANDLERS

HOUR = timedelta(hours=1)


@dataclass
class Clock:
    now: datetime = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bus(uow: FakeUnitOfWork, clock: Clock) -> Bus:
    return bootstrap(lambda: uow, now=clock)


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def apply(bus: Bus, **person: object) -> ResettlementApplication:
    applicant = await bus.handle(new_person(**person))
    return await bus.handle(
        c.ApplyForResettlement(
            actor=MINISTRY,
            applicant_id=applicant.id,
            category=ResettlementCategory.MIGRANT,
            family_member_ids=(),
            target_region="590000000",
            target_year=2026,
        )
    )


def requests(uow: FakeUnitOfWork) -> list[str]:
    return [e.subject for e in uow.published if isinstance(e.payload, ResettlementRequested)]


def again(limit: int = 100) -> c.RequestQuotaAgain:
    return c.RequestQuotaAgain(actor=c.WORKER, pending_for=HOUR, limit=limit)


# --- item 12: nothing stays pending forever ---------------------------------------------------


async def test_an_application_left_pending_is_asked_again_each_interval(
    bus: Bus, uow: FakeUnitOfWork, store: Store, clock: Clock
) -> None:
    app = await apply(bus)
    before = counted("koshiqon_registration_quota_requested_again_total")

    clock.now += timedelta(minutes=59)
    assert await bus.handle(again()) == 0
    clock.now += timedelta(minutes=2)
    assert await bus.handle(again()) == 1
    assert await bus.handle(again()) == 0  # asked just now
    clock.now += HOUR
    assert await bus.handle(again()) == 1

    assert requests(uow) == [str(app.id)] * 3
    first, *repeats = [e.payload for e in uow.published if e.subject == str(app.id)]
    # the same request, which quota answers the same, marked a repeat (counted once)
    assert not first.repeat
    assert repeats == [first.model_copy(update={"repeat": True})] * 2
    stored = store.applications[app.id]
    assert (stored.quota_requests, stored.quota_requested_at) == (3, clock.now)
    assert stored.status is ApplicationStatus.PENDING_QUOTA
    assert counted("koshiqon_registration_quota_requested_again_total") == before + 2


async def test_a_decided_application_is_not_asked_again(
    bus: Bus, uow: FakeUnitOfWork, clock: Clock
) -> None:
    app = await apply(bus)
    reserved = wire.QuotaReserved(
        application_id=app.id, quota_id=uuid.uuid4(), kind=wire.QuotaKind.MIGRANT,
        region="590000000", year=2026, persons=1, remaining=5, reserved_at=clock.now,
    )  # fmt: skip
    await EVENT_HANDLERS[wire.QuotaReserved](reserved, bus.deps)
    clock.now += 10 * HOUR
    assert await bus.handle(again()) == 0
    assert requests(uow) == [str(app.id)]


async def test_a_run_asks_at_most_its_cap_the_longest_pending_first(
    bus: Bus, uow: FakeUnitOfWork, clock: Clock
) -> None:
    apps = []
    for n in range(3):
        apps.append(await apply(bus, iin=None, legal_status=LegalStatus.STATELESS,
                                citizenship=None, kandas=None,
                                travel_document=c.TravelDocument(f"P{n}", "UNK")))  # fmt: skip
        clock.now += timedelta(minutes=1)
    clock.now += HOUR
    scheduler = PendingQuotaScheduler(bus, pending_for=HOUR, batch_size=2)
    assert await scheduler.run_once() == 2
    assert requests(uow)[3:] == [str(apps[0].id), str(apps[1].id)]
    assert await scheduler.run_once() == 1
    assert requests(uow)[5:] == [str(apps[2].id)]
    assert await scheduler.run_once() == 0


# --- item 13: outcomes of reservations registration did not request ---------------------------


def _outcomes(application_id: uuid.UUID, at: datetime) -> list[wire.EventPayload]:
    facts = dict(  # noqa: C408
        application_id=application_id, kind=wire.QuotaKind.FOREIGN_LABOUR, region="750000000",
        year=2026, persons=2,
    )  # fmt: skip
    quota_id = uuid.uuid4()
    return [
        wire.QuotaReserved(**facts, quota_id=quota_id, remaining=3, reserved_at=at),
        wire.QuotaDenied(**facts, reason=wire.DenialReason.NO_QUOTA, denied_at=at),
        wire.QuotaReleased(
            **facts, quota_id=quota_id, reason=wire.ReleaseReason.CANCELLED, released_at=at
        ),
        wire.QuotaExpired(**facts, quota_id=quota_id, period_end=date(2026, 12, 31), expired_at=at),
    ]


async def test_outcomes_for_applications_registration_never_requested_are_ignored_and_counted(
    bus: Bus, uow: FakeUnitOfWork, store: Store, clock: Clock
) -> None:
    app = await apply(bus)
    published, kept = len(uow.published), dict(store.applications)
    name = "koshiqon_registration_quota_outcomes_ignored_total"
    for outcome in _outcomes(uuid.uuid4(), clock.now):  # e.g. reserved over the quota API
        before = counted(name, event=outcome.contract.name)
        await EVENT_HANDLERS[type(outcome)](outcome, bus.deps)  # no ApplicationNotFound
        assert counted(name, event=outcome.contract.name) == before + 1
    assert len(uow.published) == published
    assert store.applications == kept
    assert store.applications[app.id].status is ApplicationStatus.PENDING_QUOTA


# --- item 15: days in Kazakhstan's time -------------------------------------------------------

NEW_YEAR_IN_KAZAKHSTAN = datetime(2026, 12, 31, 19, 30, tzinfo=UTC)  # 00:30 on 1 January


def born_on(day: date) -> c.RegisterPerson:
    return new_person(
        legal_status=LegalStatus.STATELESS, iin=None, citizenship=None, kandas=None,
        birth_date=day, travel_document=c.TravelDocument("N1", "UNK"),
    )  # fmt: skip


async def test_a_birth_on_new_years_day_in_kazakhstan_is_not_in_the_future(
    bus: Bus, clock: Clock
) -> None:
    clock.now = NEW_YEAR_IN_KAZAKHSTAN - HOUR  # 23:30 on 31 December there
    with pytest.raises(InvalidInput) as refused:
        await bus.handle(born_on(date(2027, 1, 1)))
    assert refused.value.field == "birth_date"
    clock.now = NEW_YEAR_IN_KAZAKHSTAN  # still 31 December in UTC
    person = await bus.handle(born_on(date(2027, 1, 1)))
    assert person.birth_date == date(2027, 1, 1)


async def test_a_stay_valid_until_new_years_eve_ends_at_midnight_in_kazakhstan(
    bus: Bus, store: Store, clock: Clock
) -> None:
    person = await bus.handle(new_person())
    stay = await bus.handle(
        new_residence(
            person.id, kind=ResidenceKind.TEMPORARY, valid_until=date(2026, 12, 31),
            purpose=StayPurpose.STUDY,
        )
    )  # fmt: skip
    scheduler = ExpiryScheduler(bus, batch_size=10)
    clock.now = NEW_YEAR_IN_KAZAKHSTAN - HOUR
    assert await scheduler.run_once() == 0
    clock.now = NEW_YEAR_IN_KAZAKHSTAN
    assert await scheduler.run_once() == 1
    assert store.residences[stay.id].ended_on == date(2026, 12, 31)


# --- item 14: a completion quota could not match ----------------------------------------------


async def test_a_refused_consumption_is_counted_and_the_application_stays_completed(
    bus: Bus, uow: FakeUnitOfWork, store: Store, clock: Clock
) -> None:
    app = await apply(bus)
    facts = dict(  # noqa: C408
        application_id=app.id, kind=wire.QuotaKind.MIGRANT, region="590000000", year=2026,
        persons=1,
    )  # fmt: skip
    reserved = wire.QuotaReserved(
        **facts, quota_id=uuid.uuid4(), remaining=1, reserved_at=clock.now
    )
    await EVENT_HANDLERS[wire.QuotaReserved](reserved, bus.deps)
    await bus.handle(new_residence(store.applications[app.id].applicant_id))
    expired = wire.QuotaExpired(
        **facts, quota_id=reserved.quota_id, period_end=date(2026, 12, 31), expired_at=clock.now
    )
    await EVENT_HANDLERS[wire.QuotaExpired](expired, bus.deps)  # it overtook the completion
    refusal = wire.QuotaConsumptionRefused(
        **facts, quota_id=reserved.quota_id, status=wire.UnheldStatus.EXPIRED,
        reason=wire.ConsumptionRefusal.PERIOD_ENDED, refused_at=clock.now,
    )  # fmt: skip
    name = "koshiqon_registration_quota_consumption_refused_total"
    before, published = counted(name, status="expired"), len(uow.published)

    await EVENT_HANDLERS[wire.QuotaConsumptionRefused](refusal, bus.deps)

    assert counted(name, status="expired") == before + 1
    assert len(uow.published) == published
    stored = store.applications[app.id]
    assert stored.status is ApplicationStatus.COMPLETED
    assert stored.quota_expired_at == clock.now  # registration's side of the record
