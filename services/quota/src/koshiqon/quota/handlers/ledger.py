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
from koshiqon.quota.bus import Deps
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import (
    ReservationNotFound,
    ReservationState,
)
from koshiqon.quota.domain.model import (
    DenialReason,
    Kind,
    Outcome,
    Quota,
    ReleaseReason,
    Reservation,
    ReservationStatus,
    Reserved,
)
from koshiqon.quota.handlers.quotas import emit_thresholds
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
    """reserved | denied; a repeat (same application id) gets the first outcome, unchanged."""
    region = kz.region_of(cmd.region).kato
    cmd.actor.require_region(region, field="region")
    now = deps.now()
    async with deps.uow() as uow:
        claimed = await uow.ledger.claim_application(
            application_id=cmd.application_id,
            kind=cmd.kind,
            region=region,
            year=cmd.year,
            category=cmd.category,
            persons=cmd.persons,
            status=ReservationStatus.PENDING,
            now=now,
        )
        if not claimed:
            return await get_reservation(uow, cmd.application_id)
        reservation = await _reserve(uow, cmd, region=region, now=now)
        await uow.commit()
    return reservation


async def _reserve(
    uow: UnitOfWork, cmd: c.ReserveQuota, *, region: str, now: datetime
) -> Reservation:
    """Reads first, the quota row's lock last: `uow.ledger.reserve` takes it, and after it only
    the outbox rows are written before the commit releases it."""
    quota, designated = await uow.quotas.quota_to_reserve(
        kind=cmd.kind,
        region=region,
        target=cmd.region,
        year=cmd.year,
        category=cmd.category,
        today=now.date(),
    )
    if quota is None:
        return await _deny(uow, cmd, region=region, reason=DenialReason.NO_QUOTA, now=now)
    if not designated:
        return await _deny(
            uow, cmd, region=region, reason=DenialReason.NOT_DESIGNATED, quota=quota, now=now
        )
    reserved = await uow.ledger.reserve(cmd.application_id, quota.id, cmd.persons, now=now)
    if reserved is None:
        return await _deny(
            uow, cmd, region=region, reason=DenialReason.EXHAUSTED, quota=quota, now=now
        )
    uow.emit(_reserved(cmd, quota, reserved, region=region, now=now), subject=cmd.application_id)
    emit_thresholds(uow, quota, reserved.reached, reserved.counters, now=now)
    return reserved.reservation


def _reserved(
    cmd: c.ReserveQuota, quota: Quota, reserved: Reserved, *, region: str, now: datetime
) -> wire.QuotaReserved:
    return wire.QuotaReserved(
        application_id=cmd.application_id,
        quota_id=quota.id,
        kind=wire.QuotaKind(cmd.kind),
        region=region,
        year=cmd.year,
        persons=cmd.persons,
        remaining=reserved.counters.remaining,
        reserved_at=now,
    )


async def _deny(
    uow: UnitOfWork,
    cmd: c.ReserveQuota,
    *,
    region: str,
    reason: DenialReason,
    now: datetime,
    quota: Quota | None = None,
) -> Reservation:
    quota_id = quota.id if quota else None
    reservation = await uow.ledger.deny(cmd.application_id, reason=reason, quota_id=quota_id)
    uow.emit(
        wire.QuotaDenied(
            application_id=cmd.application_id,
            quota_id=quota_id,
            kind=wire.QuotaKind(cmd.kind),
            region=region,
            year=cmd.year,
            persons=cmd.persons,
            reason=wire.DenialReason(reason),
            remaining=reservation.remaining_at_denial,
            denied_at=now,
        ),
        subject=cmd.application_id,
    )
    return reservation


async def consume_reservation(cmd: c.ConsumeReservation, deps: Deps) -> Reservation:
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
                return existing  # resettled without support (§3): nothing to consume
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
