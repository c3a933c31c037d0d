"""The quota handlers' rules, driven through the composition root (`bootstrap.bootstrap`)
with an in-memory unit of work (quota/fakes.py): no database, no patching."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from quota.fakes import FakeUnitOfWork
from quota.helpers import ACTOR, NORTH_KAZ, PAVLODAR, Clock

from koshiqon.common.events import proposals, registration
from koshiqon.common.events import quota as wire
from koshiqon.common.messagebus import Actor, OutsideRegion
from koshiqon.quota.bootstrap import bootstrap
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import BelowUsed, DuplicateQuota, NotDesignated
from koshiqon.quota.domain.model import (
    Category,
    DenialReason,
    Kind,
    Outcome,
    Period,
    Quota,
    QuotaSpec,
    ReleaseReason,
    Reservation,
    ReservationStatus,
    TerritoryKind,
)
from koshiqon.quota.handlers import EVENT_HANDLERS

PAVLODAR_DISTRICT = "551010000"


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def bus(uow: FakeUnitOfWork) -> Bus:
    return bootstrap(lambda: uow, now=Clock())


def spec(limit: int = 10, *, region: str = PAVLODAR, kind: Kind = Kind.MIGRANT) -> QuotaSpec:
    period = Period.of(2026)
    return QuotaSpec.of(kind=kind, region=region, period=period, category=None, limit=limit)


async def designate(bus: Bus, kato: str = PAVLODAR) -> uuid.UUID:
    command = c.DesignateTerritory(
        kato, TerritoryKind.MIGRANT, date(2026, 1, 1), "Decree 1", actor=ACTOR
    )
    territory = await bus.handle(command)
    return territory.id


async def quota(bus: Bus, limit: int = 10) -> Quota:
    await designate(bus)
    return await bus.handle(c.EstablishQuota(spec(limit), actor=ACTOR))


async def reserve(
    bus: Bus,
    persons: int,
    *,
    application_id: uuid.UUID | None = None,
    region: str = PAVLODAR,
    actor: Actor = ACTOR,
) -> Reservation:
    app = application_id or uuid.uuid4()
    return await bus.handle(c.ReserveQuota(app, Kind.MIGRANT, region, 2026, persons, actor=actor))


def counters(uow: FakeUnitOfWork, quota_id: uuid.UUID) -> tuple[int, int, int]:
    q = uow.state.quotas[quota_id]
    return q.limit, q.reserved, q.consumed


# --- establishing and adjusting -------------------------------------------------------------


async def test_a_resettlement_quota_needs_a_designated_territory(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    with pytest.raises(NotDesignated):
        await bus.handle(c.EstablishQuota(spec(), actor=ACTOR))
    assert uow.state.quotas == {}
    assert uow.published == []

    await designate(bus)
    established = await bus.handle(c.EstablishQuota(spec(), actor=ACTOR))
    assert established.limit == 10
    assert uow.published_types() == ["territory-designated", "quota-established"]


async def test_foreign_labour_quotas_need_no_designation(bus: Bus) -> None:
    labour = QuotaSpec.of(
        kind=Kind.FOREIGN_LABOUR,
        region=PAVLODAR,
        period=Period.of(2026),
        category=Category.SKILLED,
        limit=5,
    )
    assert (await bus.handle(c.EstablishQuota(labour, actor=ACTOR))).limit == 5


async def test_a_second_active_quota_for_the_same_years_is_refused(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    await quota(bus)
    with pytest.raises(DuplicateQuota):
        await bus.handle(c.EstablishQuota(spec(20), actor=ACTOR))
    assert len(uow.state.quotas) == 1


async def test_an_adjustment_never_cuts_the_limit_below_what_is_used(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus)
    await reserve(bus, 6)
    with pytest.raises(BelowUsed) as refused:
        await bus.handle(c.AdjustQuota(q.id, "cut", "Order 2", new_limit=5, actor=ACTOR))
    assert refused.value.extra == {"reserved": 6, "consumed": 0}
    assert counters(uow, q.id) == (10, 6, 0)

    await bus.handle(c.AdjustQuota(q.id, "cut", "Order 2", new_limit=6, actor=ACTOR))
    assert counters(uow, q.id) == (6, 6, 0)
    reached = ["quota-threshold-reached"] * 2  # 90 % and 100 % at once
    assert uow.published_types()[-3:] == ["quota-adjusted", *reached]


# --- the reservation ledger -----------------------------------------------------------------


async def test_a_reservation_that_fits_is_reserved_and_published(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus)
    reservation = await reserve(bus, 4)
    assert (reservation.status, reservation.quota_id) == (ReservationStatus.RESERVED, q.id)
    assert counters(uow, q.id) == (10, 4, 0)
    reserved = uow.published[-1]
    assert isinstance(reserved.payload, wire.QuotaReserved)
    assert (reserved.payload.remaining, reserved.subject) == (6, str(reservation.application_id))


async def test_a_reservation_that_does_not_fit_is_denied_with_what_remains(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus, limit=5)
    await reserve(bus, 4)
    denied = await reserve(bus, 2)
    assert denied.status is ReservationStatus.DENIED
    assert (denied.denial_reason, denied.remaining_at_denial) == (DenialReason.EXHAUSTED, 1)
    assert counters(uow, q.id) == (5, 4, 0)
    refused = uow.published[-1].payload
    assert isinstance(refused, wire.QuotaDenied)
    assert refused.reason == "exhausted"


async def test_without_a_quota_the_reservation_is_denied(bus: Bus) -> None:
    denied = await reserve(bus, 1, region=NORTH_KAZ)
    assert (denied.outcome, denied.denial_reason) == (Outcome.DENIED, DenialReason.NO_QUOTA)


async def test_a_repeated_request_gets_its_first_outcome_and_no_second_effect(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus, limit=5)
    application_id = uuid.uuid4()
    first = await reserve(bus, 3, application_id=application_id)
    published = len(uow.published)
    again = await reserve(bus, 3, application_id=application_id)
    assert again == first
    assert counters(uow, q.id) == (5, 3, 0)
    assert uow.published_types()[published:] == ["quota-reserved"]  # again (test_reserve_repeat)


async def test_the_90_and_100_percent_thresholds_are_announced_once_each(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus, limit=10)
    await reserve(bus, 9)
    last = await reserve(bus, 1)
    await bus.handle(
        c.ReleaseReservation(last.application_id, ReleaseReason.CANCELLED, actor=ACTOR)
    )
    await reserve(bus, 1)  # 100 % again: not announced again
    thresholds = [
        e.payload.threshold
        for e in uow.published
        if isinstance(e.payload, wire.QuotaThresholdReached)
    ]
    assert thresholds == ["90", "100"]
    assert counters(uow, q.id) == (10, 10, 0)


async def test_consuming_moves_persons_from_reserved_to_consumed_once(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus)
    reservation = await reserve(bus, 3)
    consumed = await bus.handle(c.ConsumeReservation(reservation.application_id, actor=ACTOR))
    assert consumed.status is ReservationStatus.CONSUMED
    assert counters(uow, q.id) == (10, 0, 3)
    again = await bus.handle(c.ConsumeReservation(reservation.application_id, actor=ACTOR))
    assert again.status is ReservationStatus.CONSUMED
    assert counters(uow, q.id) == (10, 0, 3)
    assert uow.published_types().count("quota-consumed") == 1


async def test_releasing_gives_the_persons_back_once(bus: Bus, uow: FakeUnitOfWork) -> None:
    q = await quota(bus)
    reservation = await reserve(bus, 3)
    release = c.ReleaseReservation(reservation.application_id, ReleaseReason.WITHDRAWN, actor=ACTOR)
    released = await bus.handle(release)
    assert released.status is ReservationStatus.RELEASED
    assert counters(uow, q.id) == (10, 0, 0)
    assert (await bus.handle(release)).status is ReservationStatus.RELEASED
    assert uow.published_types().count("quota-released") == 1


async def test_a_withdrawal_before_its_request_leaves_a_tombstone(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus)
    application_id = uuid.uuid4()
    tombstone = c.Tombstone(Kind.MIGRANT, PAVLODAR, 2026, 2)
    withdrawn = await bus.handle(
        c.ReleaseReservation(application_id, ReleaseReason.WITHDRAWN, tombstone, actor=ACTOR)
    )
    assert withdrawn.status is ReservationStatus.WITHDRAWN
    late = await reserve(bus, 2, application_id=application_id)
    assert late.status is ReservationStatus.WITHDRAWN
    assert counters(uow, q.id) == (10, 0, 0)


async def test_an_excluded_territory_takes_no_new_reservations_but_keeps_the_old(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    district = await designate(bus, PAVLODAR_DISTRICT)
    q = await bus.handle(c.EstablishQuota(spec(), actor=ACTOR))
    kept = await reserve(bus, 2, region=PAVLODAR_DISTRICT)
    await bus.handle(c.ExcludeTerritory(district, date(2026, 2, 1), "Decree 2", actor=ACTOR))

    denied = await reserve(bus, 1, region=PAVLODAR_DISTRICT)
    assert denied.denial_reason is DenialReason.NOT_DESIGNATED
    assert uow.state.reservations[kept.application_id].status is ReservationStatus.RESERVED
    assert counters(uow, q.id) == (10, 2, 0)


async def test_work_that_fails_leaves_nothing_behind(bus: Bus, uow: FakeUnitOfWork) -> None:
    await quota(bus)
    published = list(uow.published)
    with pytest.raises(DuplicateQuota):
        await bus.handle(c.EstablishQuota(spec(3), actor=ACTOR))
    assert uow.published == published
    assert len(uow.state.history) == 1


# --- actors and consumed events ---------------------------------------------------------------


async def test_an_akimat_reserves_and_releases_only_in_its_region(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus)
    pavlodar, elsewhere = Actor("akimat", region=PAVLODAR), Actor("akimat", region=NORTH_KAZ)
    with pytest.raises(OutsideRegion):
        await reserve(bus, 1, region=PAVLODAR_DISTRICT, actor=elsewhere)
    reservation = await reserve(bus, 2, region=PAVLODAR_DISTRICT, actor=pavlodar)
    release = c.ReleaseReservation(
        reservation.application_id, ReleaseReason.CANCELLED, actor=elsewhere
    )
    with pytest.raises(OutsideRegion):
        await bus.handle(release)
    assert counters(uow, q.id) == (10, 2, 0)
    released = await bus.handle(
        c.ReleaseReservation(reservation.application_id, ReleaseReason.CANCELLED, actor=pavlodar)
    )
    assert released.status is ReservationStatus.RELEASED


async def test_the_history_records_the_actors_subject(bus: Bus, uow: FakeUnitOfWork) -> None:
    q = await quota(bus)
    ministry = Actor("minister", agency="MLSP")
    await bus.handle(c.AdjustQuota(q.id, "more", "Order 3", delta=2, actor=ministry))
    assert [actor for _, _, _, actor in uow.state.history] == ["test", "minister"]


async def test_an_approved_proposal_is_applied_once_without_an_actor(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus)
    proposal = uuid.uuid4()
    effect = proposals.AdjustQuotaEffect(kind="migrant", year=2026, delta=5, reason="arrivals")
    event = proposals.ProposalApproved(
        proposal_id=proposal, region=PAVLODAR, effect=effect, approved_at=Clock().now
    )
    on_approved = EVENT_HANDLERS[proposals.ProposalApproved]
    await on_approved(event, bus.deps)
    await on_approved(event, bus.deps)  # a repeat under a new event id: no second effect
    assert counters(uow, q.id) == (15, 0, 0)
    assert uow.state.history[-1] == (q.id, 10, 15, None)  # named by its proposal, as before
    assert uow.state.proposals == {proposal: "applied"}


async def test_a_proposal_that_cannot_be_applied_is_refused_and_published(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    proposal = uuid.uuid4()
    effect = proposals.AdjustQuotaEffect(kind="migrant", year=2027, delta=5, reason="next year")
    event = proposals.ProposalApproved(
        proposal_id=proposal, region=PAVLODAR, effect=effect, approved_at=Clock().now
    )
    await EVENT_HANDLERS[proposals.ProposalApproved](event, bus.deps)
    refused = uow.published[-1]
    assert isinstance(refused.payload, wire.ProposalEffectRefused)
    assert (refused.payload.reason, refused.subject) == ("no_quota", str(proposal))
    assert uow.state.proposals == {proposal: "refused"}


async def test_a_repeated_approval_gets_the_first_answer_again_and_no_second_effect(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    """The proposals service sends a stuck approval again: quota answers with what it first
    published for the proposal (the threshold reached on the way is no answer)."""
    q = await quota(bus)
    proposal = uuid.uuid4()
    effect = proposals.AdjustQuotaEffect(kind="migrant", year=2026, new_limit=4, reason="cut")
    event = proposals.ProposalApproved(
        proposal_id=proposal, region=PAVLODAR, effect=effect, approved_at=Clock().now
    )
    await reserve(bus, 4)  # 4 of 10: a cut to 4 reaches 100 %
    on_approved = EVENT_HANDLERS[proposals.ProposalApproved]
    await on_approved(event, bus.deps)
    first = [e for e in uow.published if e.subject in (str(proposal), str(q.id))]
    await on_approved(event, bus.deps)
    again = [e for e in uow.published if e.subject in (str(proposal), str(q.id))][len(first) :]
    assert counters(uow, q.id) == (4, 4, 0)  # applied once
    adjusted = [e for e in first if isinstance(e.payload, wire.QuotaAdjusted)]
    assert [type(e.payload) for e in again] == [wire.QuotaAdjusted]
    assert (again[0].payload, again[0].subject) == (adjusted[0].payload, adjusted[0].subject)


async def test_a_repeated_approval_that_was_refused_is_refused_again(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    proposal = uuid.uuid4()
    effect = proposals.AdjustQuotaEffect(kind="migrant", year=2027, delta=5, reason="next year")
    event = proposals.ProposalApproved(
        proposal_id=proposal, region=PAVLODAR, effect=effect, approved_at=Clock().now
    )
    await EVENT_HANDLERS[proposals.ProposalApproved](event, bus.deps)
    await EVENT_HANDLERS[proposals.ProposalApproved](event, bus.deps)
    refusals = [e for e in uow.published if isinstance(e.payload, wire.ProposalEffectRefused)]
    assert len(refusals) == 2
    assert refusals[0].payload == refusals[1].payload  # the same reason and detail, first time's


async def test_a_requested_resettlement_reserves_as_the_worker(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus)
    application = uuid.uuid4()
    event = registration.ResettlementRequested(
        application_id=application, applicant_id=uuid.uuid4(), category="migrant",
        target_region=PAVLODAR_DISTRICT, target_year=2026, persons=3, requested_at=Clock().now,
    )  # fmt: skip
    await EVENT_HANDLERS[registration.ResettlementRequested](event, bus.deps)
    assert uow.state.reservations[application].status is ReservationStatus.RESERVED
    assert counters(uow, q.id) == (10, 3, 0)


async def test_expiry_releases_the_reservations_of_ended_quotas(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    q = await quota(bus)
    await reserve(bus, 3)
    assert await bus.handle(c.ExpireReservations(date(2026, 12, 31), actor=ACTOR)) == 0
    assert await bus.handle(c.ExpireReservations(date(2027, 1, 1), actor=ACTOR)) == 1
    assert counters(uow, q.id) == (10, 0, 0)
    assert uow.state.quotas[q.id].status == "closed"
    assert uow.published_types()[-1] == "quota-expired"
