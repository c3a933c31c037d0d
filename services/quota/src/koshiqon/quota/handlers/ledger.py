"""The reservation ledger: reserve, consume, release, expire, as commands and as the
registration.v1 events that ask for them (resettlement requested, completed, withdrawn).
Counters change only through the repository's conditional updates."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from koshiqon.common import kz
from koshiqon.common.errors import TransientError
from koshiqon.common.events import quota as wire
from koshiqon.common.events import registration as reg
from koshiqon.quota import metrics
from koshiqon.quota.bus import Deps
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.announcements import Outcomes
from koshiqon.quota.domain.errors import (
    ReservationConflict,
    ReservationNotFound,
    ReservationState,
)
from koshiqon.quota.domain.model import (
    THRESHOLDS,
    Counters,
    DenialReason,
    Kind,
    Outcome,
    Quota,
    ReleaseReason,
    Reservation,
    ReservationStatus,
)
from koshiqon.quota.handlers.quotas import threshold_reached
from koshiqon.quota.handlers.shared import get_quota, get_reservation
from koshiqon.quota.unit_of_work import UnitOfWork

FINAL_WITHOUT_RESERVATION = frozenset(
    {
        ReservationStatus.RELEASED,
        ReservationStatus.EXPIRED,
        ReservationStatus.DENIED,
        ReservationStatus.WITHDRAWN,
    }
)


async def reserve_quota(cmd: c.ReserveQuota, deps: Deps) -> Reservation:
    """reserved | denied, each with its event; the decision, the counters, the ledger entry
    and the events are one statement (`uow.ledger.reserve`), so the quota row's lock is held
    for that statement alone.

    A repeat (the same application id) gets the entry's first outcome again, and its event
    is published again through the outbox, as first published (the same figures, the same
    `reserved_at` or `denied_at`), so that a lost event heals when registration asks again.
    It is the outcome that is re-published, whatever the entry became since (consumed,
    released, expired): those transitions published their own events when they happened,
    and registration asks again only for an application still waiting for its outcome. An
    entry left by a withdrawal (a tombstone) publishes nothing, as the first time. A repeat
    whose kind, region, year, category or persons differ from the entry's is refused with
    `ReservationConflict` (409 through the API; dead-lettered at once by the consumer, a
    domain refusal being permanent)."""
    region = kz.region_of(cmd.region).kato
    cmd.actor.require_region(region, field="region")
    reservation = await _reserve_once(cmd, deps, region=region, repeat=False)
    if reservation is None:  # the application has an entry: a repeat (or a concurrent first)
        reservation = await _reserve_once(cmd, deps, region=region, repeat=True)
    if reservation is None:
        raise TransientError("the application's entry could not be read: handle again")
    return reservation


async def _reserve_once(
    cmd: c.ReserveQuota, deps: Deps, *, region: str, repeat: bool
) -> Reservation | None:
    """The outcome; None when the statement found an entry for the application already
    (nothing was written). A first try does not read the entry: the statement's claim
    tells; a `repeat` reads it and answers with it."""
    now = deps.now()
    async with deps.uow() as uow:
        existing = await uow.ledger.get_reservation(cmd.application_id) if repeat else None
        if existing is not None:
            reservation: Reservation | None = await _repeat(uow, cmd, existing, region=region)
        else:
            reservation = await _reserve(uow, cmd, region=region, now=now)
        await uow.commit()
    return reservation


async def _reserve(
    uow: UnitOfWork, cmd: c.ReserveQuota, *, region: str, now: datetime
) -> Reservation | None:
    """Reads first, outside the transaction; then the one statement that writes."""
    quota, designated = await uow.quotas.quota_to_reserve(
        kind=cmd.kind,
        region=region,
        target=cmd.region,
        year=cmd.year,
        category=cmd.category,
        today=kz.kz_today(now),
    )
    if quota is None:
        return await _deny(uow, cmd, region=region, reason=DenialReason.NO_QUOTA, now=now)
    if not designated:
        return await _deny(
            uow, cmd, region=region, reason=DenialReason.NOT_DESIGNATED, quota=quota, now=now
        )
    return await uow.ledger.reserve(
        application_id=cmd.application_id,
        quota_id=quota.id,
        kind=cmd.kind,
        region=region,
        year=cmd.year,
        category=cmd.category,
        persons=cmd.persons,
        outcomes=_outcomes(cmd, quota, region=region, now=now),
        now=now,
    )


def _outcomes(cmd: c.ReserveQuota, quota: Quota, *, region: str, now: datetime) -> Outcomes:
    """The events the reservation may publish; the figures the statement fills are 0 here."""
    return Outcomes(
        reserved=_reserved(cmd, quota.id, region=region, remaining=0, at=now),
        exhausted=_denied(
            cmd,
            region=region,
            reason=DenialReason.EXHAUSTED,
            quota_id=quota.id,
            remaining=0,
            at=now,
        ),
        thresholds=tuple(
            threshold_reached(quota, threshold, Counters(0, 0, 0), now=now)
            for threshold in THRESHOLDS
        ),
    )


def _reserved(
    cmd: c.ReserveQuota, quota_id: UUID, *, region: str, remaining: int, at: datetime
) -> wire.QuotaReserved:
    return wire.QuotaReserved(
        application_id=cmd.application_id,
        quota_id=quota_id,
        kind=wire.QuotaKind(cmd.kind),
        region=region,
        year=cmd.year,
        persons=cmd.persons,
        remaining=remaining,
        reserved_at=at,
    )


def _denied(
    cmd: c.ReserveQuota,
    *,
    region: str,
    reason: DenialReason,
    quota_id: UUID | None,
    remaining: int | None,
    at: datetime,
) -> wire.QuotaDenied:
    return wire.QuotaDenied(
        application_id=cmd.application_id,
        quota_id=quota_id,
        kind=wire.QuotaKind(cmd.kind),
        region=region,
        year=cmd.year,
        persons=cmd.persons,
        reason=wire.DenialReason(reason),
        remaining=remaining,
        denied_at=at,
    )


async def _deny(
    uow: UnitOfWork,
    cmd: c.ReserveQuota,
    *,
    region: str,
    reason: DenialReason,
    now: datetime,
    quota: Quota | None = None,
) -> Reservation | None:
    """No quota, or not designated: the denied entry and its event, in one statement."""
    quota_id = quota.id if quota else None
    return await uow.ledger.deny(
        application_id=cmd.application_id,
        kind=cmd.kind,
        region=region,
        year=cmd.year,
        category=cmd.category,
        persons=cmd.persons,
        reason=reason,
        quota_id=quota_id,
        denied=_denied(cmd, region=region, reason=reason, quota_id=quota_id, remaining=None,
                       at=now),
        now=now,
    )  # fmt: skip


async def _repeat(
    uow: UnitOfWork, cmd: c.ReserveQuota, existing: Reservation, *, region: str
) -> Reservation:
    """The entry's first outcome, its event published again (see `reserve_quota`)."""
    _require_same_request(cmd, existing, region=region)
    at = existing.requested_at  # the outcome was decided, and first published, then
    if existing.outcome is Outcome.RESERVED:
        assert existing.quota_id is not None
        remaining = existing.remaining_at_reservation
        if remaining is None:  # reserved before the figure was kept: the quota's now
            remaining = (await get_quota(uow, existing.quota_id)).remaining
        event: wire.QuotaReserved | wire.QuotaDenied = _reserved(
            cmd, existing.quota_id, region=region, remaining=remaining, at=at
        )
    elif existing.outcome is Outcome.DENIED:
        assert existing.denial_reason is not None
        event = _denied(
            cmd, region=region, reason=existing.denial_reason, quota_id=existing.quota_id,
            remaining=existing.remaining_at_denial, at=at,
        )  # fmt: skip
    else:
        return existing  # a tombstone: the withdrawal answered for it
    uow.emit(event.model_copy(update={"repeat": True}), subject=cmd.application_id)
    return existing


def _require_same_request(cmd: c.ReserveQuota, existing: Reservation, *, region: str) -> None:
    """A repeat asks for what the entry holds; anything else is another request under the
    same application id."""
    asked = {"kind": cmd.kind, "region": region, "year": cmd.year, "persons": cmd.persons}
    held = {
        "kind": existing.kind,
        "region": existing.region,
        "year": existing.year,
        "persons": existing.persons,
    }
    if existing.outcome is not Outcome.WITHDRAWN:  # a tombstone does not know the category
        asked["category"], held["category"] = cmd.category, existing.category
    differing = [name for name in asked if asked[name] != held[name]]
    if differing:
        raise ReservationConflict(
            f"application {cmd.application_id} was asked for with other "
            f"{', '.join(differing)}: a repeat must ask for the same",
            field=differing[0],
            extra={"fields": differing},
        )


async def consume_reservation(cmd: c.ConsumeReservation, deps: Deps) -> Reservation:
    """Consumed once; a repeat gets the entry as it is. A completion that finds the
    reservation no longer held (expired, released, denied, withdrawn) consumes nothing: the
    applicant resettled without support (§3), and the refusal is published
    (`quota-consumption-refused`) and counted, so the two sides can be reconciled."""
    now = deps.now()
    async with deps.uow() as uow:
        moved = await uow.ledger.transition(
            cmd.application_id, to=ReservationStatus.CONSUMED, now=now
        )
        if moved is None:
            existing = await get_reservation(uow, cmd.application_id)
            if existing.status is ReservationStatus.CONSUMED:
                return existing  # a repeat: no second effect
            if existing.status in FINAL_WITHOUT_RESERVATION:
                uow.emit(_consumption_refused(existing, now=now), subject=existing.application_id)
                await uow.commit()
                metrics.CONSUMPTION_REFUSED.labels(status=existing.status.value).inc()
                return existing
            raise ReservationState(f"the reservation is {existing.status}, not reserved")
        assert moved.quota_id is not None
        await uow.quotas.move_to_consumed(moved.quota_id, moved.persons, now=now)
        uow.emit(
            wire.QuotaConsumed(
                application_id=moved.application_id,
                quota_id=moved.quota_id,
                kind=wire.QuotaKind(moved.kind),
                region=moved.region,
                year=moved.year,
                persons=moved.persons,
                consumed_at=now,
            ),
            subject=moved.application_id,
        )
        await uow.commit()
    return moved


def _consumption_refused(entry: Reservation, *, now: datetime) -> wire.QuotaConsumptionRefused:
    return wire.QuotaConsumptionRefused(
        application_id=entry.application_id,
        quota_id=entry.quota_id,
        kind=wire.QuotaKind(entry.kind),
        region=entry.region,
        year=entry.year,
        persons=entry.persons,
        status=wire.UnheldStatus(entry.status),
        reason=_unheld_because(entry),
        refused_at=now,
    )


def _unheld_because(entry: Reservation) -> wire.ConsumptionRefusal:
    if entry.status is ReservationStatus.EXPIRED:
        return wire.ConsumptionRefusal.PERIOD_ENDED
    reason = entry.release_reason or entry.denial_reason
    assert reason is not None  # a release, a withdrawal and a denial each say why
    return wire.ConsumptionRefusal(reason)


async def release_reservation(cmd: c.ReleaseReservation, deps: Deps) -> Reservation:
    """Released once; a repeat or a tombstone gets the entry as it is."""
    now = deps.now()
    async with deps.uow() as uow:
        await _require_region_of(uow, cmd)
        moved = await uow.ledger.transition(
            cmd.application_id, to=ReservationStatus.RELEASED, now=now, release=cmd.reason
        )
        if moved is None:
            reservation = await _not_released(uow, cmd, now=now)
            await uow.commit()
            return reservation
        assert moved.quota_id is not None
        await uow.quotas.unreserve(moved.quota_id, moved.persons, now=now)
        uow.emit(
            wire.QuotaReleased(
                application_id=moved.application_id,
                quota_id=moved.quota_id,
                kind=wire.QuotaKind(moved.kind),
                region=moved.region,
                year=moved.year,
                persons=moved.persons,
                reason=wire.ReleaseReason(cmd.reason),
                released_at=now,
            ),
            subject=moved.application_id,
        )
        await uow.commit()
    return moved


async def _require_region_of(uow: UnitOfWork, cmd: c.ReleaseReservation) -> None:
    """An actor limited to a region releases only the reservations of its region."""
    if cmd.actor.region is None:
        return
    existing = await uow.ledger.get_reservation(cmd.application_id)
    if existing is not None:
        cmd.actor.require_region(existing.region, field="application_id")


async def _not_released(
    uow: UnitOfWork, cmd: c.ReleaseReservation, *, now: datetime
) -> Reservation:
    """A release that finds nothing reserved: a repeat, a tombstone, or a refusal."""
    existing = await uow.ledger.get_reservation(cmd.application_id)
    if existing is not None and existing.status in FINAL_WITHOUT_RESERVATION:
        return existing
    if existing is not None:
        raise ReservationState(f"the reservation is {existing.status}; it cannot be released")
    tombstone = cmd.tombstone
    if tombstone is None:
        raise ReservationNotFound(f"no reservation for application {cmd.application_id}")
    claimed = await uow.ledger.claim_application(
        application_id=cmd.application_id,
        kind=tombstone.kind,
        region=kz.region_of(tombstone.region).kato,
        year=tombstone.year,
        category=None,
        persons=tombstone.persons,
        status=ReservationStatus.WITHDRAWN,
        now=now,
    )
    if not claimed:
        raise TransientError("the application's request arrived meanwhile: handle again")
    return await uow.ledger.settle(
        cmd.application_id,
        status=ReservationStatus.WITHDRAWN,
        outcome=Outcome.WITHDRAWN,
        release=cmd.reason,
    )


async def expire_reservations(cmd: c.ExpireReservations, deps: Deps) -> int:
    """Expire the reservations of every quota whose period ended before `cmd.today`."""
    now = deps.now()
    async with deps.uow() as uow:
        expired = await uow.ledger.expire_ended(before_year=cmd.today.year, now=now)
        ends: dict[UUID, date] = {}
        for reservation in expired:
            assert reservation.quota_id is not None
            if reservation.quota_id not in ends:
                ends[reservation.quota_id] = (await get_quota(uow, reservation.quota_id)).period.end
            uow.emit(
                wire.QuotaExpired(
                    application_id=reservation.application_id,
                    quota_id=reservation.quota_id,
                    kind=wire.QuotaKind(reservation.kind),
                    region=reservation.region,
                    year=reservation.year,
                    persons=reservation.persons,
                    period_end=ends[reservation.quota_id],
                    expired_at=now,
                ),
                subject=reservation.application_id,
            )
        await uow.quotas.close_ended(before_year=cmd.today.year, now=now)
        await uow.commit()
    return len(expired)


# --- registration.v1 --------------------------------------------------------------------------


async def on_resettlement_requested(event: reg.ResettlementRequested, deps: Deps) -> None:
    await reserve_quota(_requested(event), deps)


async def on_resettlement_completed(event: reg.ResettlementCompleted, deps: Deps) -> None:
    await consume_reservation(_completed(event), deps)


async def on_resettlement_withdrawn(event: reg.ResettlementWithdrawn, deps: Deps) -> None:
    await release_reservation(_withdrawn(event), deps)


def _requested(event: reg.ResettlementRequested) -> c.ReserveQuota:
    return c.ReserveQuota(
        application_id=event.application_id,
        kind=Kind(event.category),
        region=event.target_region,
        year=event.target_year,
        persons=event.persons,
        actor=c.WORKER,
    )


def _completed(event: reg.ResettlementCompleted) -> c.ConsumeReservation:
    return c.ConsumeReservation(event.application_id, actor=c.WORKER)


def _withdrawn(event: reg.ResettlementWithdrawn) -> c.ReleaseReservation:
    tombstone = c.Tombstone(
        kind=Kind(event.category),
        region=event.target_region,
        year=event.target_year,
        persons=event.persons,
    )
    return c.ReleaseReservation(
        event.application_id, ReleaseReason.WITHDRAWN, tombstone, actor=c.WORKER
    )
