"""One async function per command: `async with uow: ... await uow.commit()`. The routing
table is at the foot. Counters change only through the repository's conditional updates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from koshiqon.common import kz
from koshiqon.common.errors import DomainError, InvalidInput, TransientError
from koshiqon.common.events import quota as wire
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import (
    AlreadyDesignated,
    BelowUsed,
    DuplicateQuota,
    InvalidOrder,
    NotDesignated,
    QuotaClosed,
    QuotaNotFound,
    ReservationNotFound,
    ReservationState,
    TerritoryExcludedAlready,
    TerritoryNotFound,
)
from koshiqon.quota.domain.model import (
    DenialReason,
    Outcome,
    Period,
    Quota,
    QuotaSpec,
    Reservation,
    ReservationStatus,
    Territory,
    TerritoryKind,
    territory_code,
)
from koshiqon.quota.domain.orders import BadRow, parse_order
from koshiqon.quota.unit_of_work import AnyUnitOfWork

Clock = Callable[[], datetime]
FINAL_WITHOUT_RESERVATION = frozenset(
    {
        ReservationStatus.RELEASED,
        ReservationStatus.EXPIRED,
        ReservationStatus.DENIED,
        ReservationStatus.WITHDRAWN,
    }
)


# --- quotas ---------------------------------------------------------------------------------


async def establish_quota(cmd: c.EstablishQuota, uow: AnyUnitOfWork, clock: Clock) -> Quota:
    async with uow:
        quota = await _establish(
            uow, cmd.spec, reference=cmd.reference, actor=cmd.actor, now=clock()
        )
        await uow.commit()
    return quota


async def _establish(
    uow: AnyUnitOfWork,
    spec: QuotaSpec,
    *,
    reference: str | None,
    actor: str | None,
    now: datetime,
) -> Quota:
    repo = uow.quotas
    await repo.lock_series(spec.kind, spec.region, spec.category)
    if await repo.overlapping_quota(spec) is not None:
        raise DuplicateQuota(
            f"an active {spec.kind} quota of region {spec.region} already covers "
            f"{spec.period.year_from}-{spec.period.year_to}"
        )
    if spec.kind.needs_designation and not await repo.designated(
        kind=TerritoryKind(spec.kind), region=spec.region, target=spec.region, on=None
    ):
        raise NotDesignated(
            f"region {spec.region} has no territory designated for {spec.kind} resettlement",
            field="region",
        )
    quota = await repo.add_quota(spec, now=now)
    await repo.add_history(
        quota.id,
        previous=None,
        limit=spec.limit,
        reason="established",
        reference=reference,
        proposal_id=None,
        actor=actor,
        now=now,
    )
    uow.emit(
        wire.QuotaEstablished(
            quota_id=quota.id,
            kind=wire.QuotaKind(quota.kind),
            region=quota.region,
            year_from=quota.period.year_from,
            year_to=quota.period.year_to,
            category=_category(quota),
            limit=quota.limit,
            reference=reference,
            established_at=now,
        ),
        subject=quota.id,
    )
    return quota


async def adjust_quota(cmd: c.AdjustQuota, uow: AnyUnitOfWork, clock: Clock) -> Quota:
    async with uow:
        quota = await _adjust(uow, cmd, now=clock())
        await uow.commit()
    return quota


async def _adjust(uow: AnyUnitOfWork, cmd: c.AdjustQuota, *, now: datetime) -> Quota:
    if (cmd.delta is None) == (cmd.new_limit is None):
        raise InvalidInput("give exactly one of delta and new_limit", field="delta")
    if cmd.delta == 0:
        raise InvalidInput("an adjustment changes the limit: delta must not be 0", field="delta")
    repo = uow.quotas
    changed = await repo.change_limit(
        cmd.quota_id, delta=cmd.delta, new_limit=cmd.new_limit, now=now
    )
    if changed is None:
        raise await _why_not_adjusted(uow, cmd.quota_id)
    previous, counters = changed
    await repo.add_history(
        cmd.quota_id,
        previous=previous,
        limit=counters.limit,
        reason=cmd.reason,
        reference=cmd.reference,
        proposal_id=cmd.proposal_id,
        actor=cmd.actor,
        now=now,
    )
    quota = await _quota(uow, cmd.quota_id)
    uow.emit(
        wire.QuotaAdjusted(
            quota_id=quota.id,
            kind=wire.QuotaKind(quota.kind),
            region=quota.region,
            year_from=quota.period.year_from,
            year_to=quota.period.year_to,
            category=_category(quota),
            previous_limit=previous,
            limit=counters.limit,
            delta=counters.limit - previous,
            reason=cmd.reason,
            reference=cmd.reference,
            proposal_id=cmd.proposal_id,
            adjusted_at=now,
        ),
        subject=quota.id,
    )
    await _announce_thresholds(uow, quota, now=now)
    return quota


async def _why_not_adjusted(uow: AnyUnitOfWork, quota_id: UUID) -> DomainError:
    quota = await uow.quotas.get_quota(quota_id)
    if quota is None:
        return QuotaNotFound(f"no quota {quota_id}")
    if quota.status != "active":
        return QuotaClosed(f"quota {quota_id} is closed")
    return BelowUsed(
        f"the limit cannot go below the {quota.used} persons already reserved and consumed",
        field="delta",
        extra={"reserved": quota.reserved, "consumed": quota.consumed},
    )


async def _announce_thresholds(uow: AnyUnitOfWork, quota: Quota, *, now: datetime) -> None:
    reached, counters = await uow.quotas.announce_thresholds(quota.id)
    for threshold in reached:
        uow.emit(
            wire.QuotaThresholdReached(
                quota_id=quota.id,
                kind=wire.QuotaKind(quota.kind),
                region=quota.region,
                year_from=quota.period.year_from,
                year_to=quota.period.year_to,
                category=_category(quota),
                threshold=wire.Threshold(str(threshold)),
                limit=counters.limit,
                reserved=counters.reserved,
                consumed=counters.consumed,
                reached_at=now,
            ),
            subject=quota.id,
        )


# --- territories ----------------------------------------------------------------------------


async def designate_territory(
    cmd: c.DesignateTerritory, uow: AnyUnitOfWork, clock: Clock
) -> Territory:
    async with uow:
        territory = await _designate(uow, cmd, now=clock())
        await uow.commit()
    return territory


async def _designate(uow: AnyUnitOfWork, cmd: c.DesignateTerritory, *, now: datetime) -> Territory:
    kato, region = territory_code(cmd.kato)
    territory = await uow.quotas.add_territory(
        kato=kato,
        region=region,
        kind=cmd.kind,
        effective_from=cmd.effective_from,
        decision=cmd.decision,
        proposal_id=cmd.proposal_id,
        now=now,
    )
    if territory is None:
        raise AlreadyDesignated(f"territory {kato} is already designated for {cmd.kind}")
    uow.emit(
        wire.TerritoryDesignated(
            territory_id=territory.id,
            kato=kato,
            region=region,
            kind=wire.ResettlementKind(territory.kind),
            effective_from=territory.effective_from,
            decision=territory.decision,
            proposal_id=cmd.proposal_id,
            designated_at=now,
        ),
        subject=territory.id,
    )
    return territory


async def exclude_territory(cmd: c.ExcludeTerritory, uow: AnyUnitOfWork, clock: Clock) -> Territory:
    async with uow:
        territory = await _exclude(uow, cmd, now=clock())
        await uow.commit()
    return territory


async def _exclude(uow: AnyUnitOfWork, cmd: c.ExcludeTerritory, *, now: datetime) -> Territory:
    repo = uow.quotas
    territory = await repo.exclude_territory(
        cmd.territory_id, effective_from=cmd.effective_from, decision=cmd.decision, now=now
    )
    if territory is None:
        if await repo.get_territory(cmd.territory_id) is None:
            raise TerritoryNotFound(f"no territory {cmd.territory_id}")
        raise TerritoryExcludedAlready(f"territory {cmd.territory_id} is already excluded")
    uow.emit(
        wire.TerritoryExcluded(
            territory_id=territory.id,
            kato=territory.kato,
            region=territory.region,
            kind=wire.ResettlementKind(territory.kind),
            effective_from=cmd.effective_from,
            decision=cmd.decision,
            proposal_id=cmd.proposal_id,
            excluded_at=now,
        ),
        subject=territory.id,
    )
    return territory


# --- the reservation ledger -----------------------------------------------------------------


async def reserve_quota(cmd: c.ReserveQuota, uow: AnyUnitOfWork, clock: Clock) -> Reservation:
    """reserved | denied; a repeat (same application id) gets the first outcome, unchanged."""
    region = kz.region_of(cmd.region).kato
    now = clock()
    async with uow:
        claimed = await uow.quotas.claim_application(
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
            return await _reservation(uow, cmd.application_id)
        reservation = await _reserve(uow, cmd, region=region, now=now)
        await uow.commit()
    return reservation


async def _reserve(
    uow: AnyUnitOfWork, cmd: c.ReserveQuota, *, region: str, now: datetime
) -> Reservation:
    repo = uow.quotas
    quota = await repo.find_quota(
        kind=cmd.kind, region=region, year=cmd.year, category=cmd.category, open_in=now.year
    )
    if quota is None:
        return await _deny(uow, cmd, region=region, reason=DenialReason.NO_QUOTA, now=now)
    on = max(now.date(), quota.period.start)
    if cmd.kind.needs_designation and not await repo.designated(
        kind=TerritoryKind(cmd.kind), region=region, target=cmd.region, on=on
    ):
        return await _deny(
            uow, cmd, region=region, reason=DenialReason.NOT_DESIGNATED, quota=quota, now=now
        )
    counters = await repo.try_reserve(quota.id, cmd.persons, now=now)
    if counters is None:
        return await _deny(
            uow, cmd, region=region, reason=DenialReason.EXHAUSTED, quota=quota, now=now
        )
    reservation = await repo.settle(
        cmd.application_id,
        status=ReservationStatus.RESERVED,
        outcome=Outcome.RESERVED,
        quota_id=quota.id,
    )
    uow.emit(
        wire.QuotaReserved(
            application_id=cmd.application_id,
            quota_id=quota.id,
            kind=wire.QuotaKind(cmd.kind),
            region=region,
            year=cmd.year,
            persons=cmd.persons,
            remaining=counters.remaining,
            reserved_at=now,
        ),
        subject=cmd.application_id,
    )
    await _announce_thresholds(uow, quota, now=now)
    return reservation


async def _deny(
    uow: AnyUnitOfWork,
    cmd: c.ReserveQuota,
    *,
    region: str,
    reason: DenialReason,
    now: datetime,
    quota: Quota | None = None,
) -> Reservation:
    remaining = None
    if reason is DenialReason.EXHAUSTED and quota is not None:
        remaining = await uow.quotas.remaining(quota.id)
    reservation = await uow.quotas.settle(
        cmd.application_id,
        status=ReservationStatus.DENIED,
        outcome=Outcome.DENIED,
        quota_id=quota.id if quota else None,
        denial=reason,
        remaining=remaining,
    )
    uow.emit(
        wire.QuotaDenied(
            application_id=cmd.application_id,
            quota_id=quota.id if quota else None,
            kind=wire.QuotaKind(cmd.kind),
            region=region,
            year=cmd.year,
            persons=cmd.persons,
            reason=wire.DenialReason(reason),
            remaining=remaining,
            denied_at=now,
        ),
        subject=cmd.application_id,
    )
    return reservation


async def consume_reservation(
    cmd: c.ConsumeReservation, uow: AnyUnitOfWork, clock: Clock
) -> Reservation:
    now = clock()
    async with uow:
        moved = await uow.quotas.transition(
            cmd.application_id, to=ReservationStatus.CONSUMED, now=now
        )
        if moved is None:
            existing = await _reservation(uow, cmd.application_id)
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


async def release_reservation(
    cmd: c.ReleaseReservation, uow: AnyUnitOfWork, clock: Clock
) -> Reservation:
    now = clock()
    async with uow:
        moved = await uow.quotas.transition(
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


async def _not_released(
    uow: AnyUnitOfWork, cmd: c.ReleaseReservation, *, now: datetime
) -> Reservation:
    """A release that finds nothing reserved: a repeat, a tombstone, or a refusal."""
    existing = await uow.quotas.get_reservation(cmd.application_id)
    if existing is not None and existing.status in FINAL_WITHOUT_RESERVATION:
        return existing
    if existing is not None:
        raise ReservationState(f"the reservation is {existing.status}; it cannot be released")
    tombstone = cmd.tombstone
    if tombstone is None:
        raise ReservationNotFound(f"no reservation for application {cmd.application_id}")
    claimed = await uow.quotas.claim_application(
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
    return await uow.quotas.settle(
        cmd.application_id,
        status=ReservationStatus.WITHDRAWN,
        outcome=Outcome.WITHDRAWN,
        release=cmd.reason,
    )


async def expire_reservations(cmd: c.ExpireReservations, uow: AnyUnitOfWork, clock: Clock) -> int:
    """Expire the reservations of every quota whose period ended before `cmd.today`."""
    now = clock()
    async with uow:
        expired = await uow.quotas.expire_ended(before_year=cmd.today.year, now=now)
        ends: dict[UUID, date] = {}
        for reservation in expired:
            assert reservation.quota_id is not None
            if reservation.quota_id not in ends:
                ends[reservation.quota_id] = (await _quota(uow, reservation.quota_id)).period.end
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


# --- quota orders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedOrder:
    quotas: list[Quota]
    territories: list[Territory]


async def import_quota_order(
    cmd: c.ImportQuotaOrder, uow: AnyUnitOfWork, clock: Clock
) -> ImportedOrder:
    """All of the order in one transaction, or nothing and every bad row named."""
    parsed = parse_order(cmd.csv_text)
    now = clock()
    async with uow:
        bad = parsed.bad + [
            BadRow(line.line, "an active quota of this kind and region already covers the year")
            for line in parsed.lines
            if await uow.quotas.overlapping_quota(line.spec) is not None
        ]
        if bad:
            raise _bad_order(bad)
        territories: list[Territory] = []
        quotas: list[Quota] = []
        for line in parsed.lines:
            territories += await _designate_for_order(uow, line.spec, order=cmd.order, now=now)
            quotas.append(
                await _establish(uow, line.spec, reference=cmd.order, actor=cmd.actor, now=now)
            )
        await uow.commit()
    return ImportedOrder(quotas, territories)


async def _designate_for_order(
    uow: AnyUnitOfWork, spec: QuotaSpec, *, order: str, now: datetime
) -> list[Territory]:
    if not spec.kind.needs_designation:
        return []
    kind = TerritoryKind(spec.kind)
    if await uow.quotas.designated(kind=kind, region=spec.region, target=spec.region, on=None):
        return []
    designation = c.DesignateTerritory(
        kato=spec.region,
        kind=kind,
        effective_from=spec.period.start,
        decision=f"quota order {order}",
    )
    return [await _designate(uow, designation, now=now)]


def _bad_order(bad: list[BadRow]) -> InvalidOrder:
    bad = sorted(bad, key=lambda row: row.line)
    rows = [{"line": row.line, "reason": row.reason} for row in bad]
    errors = [{"field": f"line {row.line}", "message": row.reason} for row in bad]
    return InvalidOrder(
        f"{len(bad)} bad row(s); nothing was imported", extra={"rows": rows, "errors": errors}
    )


# --- approved proposals ---------------------------------------------------------------------

ProposalStep = c.AdjustQuotaOf | c.DesignateTerritory | c.ExcludeTerritoriesOf


@dataclass(frozen=True)
class ApplyProposal:
    proposal_id: UUID
    region: str
    effect: str
    steps: tuple[ProposalStep, ...]


REFUSALS: tuple[tuple[type[DomainError], wire.RefusalReason], ...] = (
    (QuotaNotFound, wire.RefusalReason.NO_QUOTA),
    (QuotaClosed, wire.RefusalReason.NO_QUOTA),
    (BelowUsed, wire.RefusalReason.BELOW_USED),
    (TerritoryNotFound, wire.RefusalReason.NOT_DESIGNATED),
    (TerritoryExcludedAlready, wire.RefusalReason.NOT_DESIGNATED),
    (NotDesignated, wire.RefusalReason.NOT_DESIGNATED),
    (AlreadyDesignated, wire.RefusalReason.ALREADY_DESIGNATED),
)


async def apply_proposal(cmd: ApplyProposal, uow: AnyUnitOfWork, clock: Clock) -> bool:
    """Apply an approved proposal's effect, or publish why it cannot be. Once per proposal:
    a repeat (even under a new event id) has no second effect. True when applied."""
    now = clock()
    async with uow:
        if not await uow.quotas.claim_proposal(cmd.proposal_id, now=now):
            return False
        try:
            async with uow.savepoint():
                for step in cmd.steps:
                    await _apply_step(uow, cmd, step, now=now)
        except DomainError as error:
            await uow.quotas.mark_proposal_refused(cmd.proposal_id)
            uow.emit(_refusal(cmd, error, now=now), subject=cmd.proposal_id)
            await uow.commit()
            return False
        await uow.commit()
    return True


async def _apply_step(
    uow: AnyUnitOfWork, cmd: ApplyProposal, step: ProposalStep, *, now: datetime
) -> None:
    if isinstance(step, c.AdjustQuotaOf):
        await _adjust_of(uow, cmd, step, now=now)
    elif isinstance(step, c.DesignateTerritory):
        _require_inside(cmd.region, step.kato)
        await _designate(uow, step, now=now)
    else:
        _require_inside(cmd.region, step.kato)
        ids = await uow.quotas.active_territories(step.kato, step.kinds)
        if not ids:
            raise TerritoryNotFound(f"territory {step.kato} has no designation to exclude")
        for territory_id in ids:
            exclusion = c.ExcludeTerritory(
                territory_id, step.effective_from, step.decision, proposal_id=step.proposal_id
            )
            await _exclude(uow, exclusion, now=now)


async def _adjust_of(
    uow: AnyUnitOfWork, cmd: ApplyProposal, step: c.AdjustQuotaOf, *, now: datetime
) -> None:
    period = Period.of(step.period.year_from, step.period.year_to)
    quota = await uow.quotas.find_quota_for_period(
        kind=step.kind, region=step.region, period=period, category=step.category
    )
    if quota is None:
        raise QuotaNotFound(
            f"no active {step.kind} quota of region {step.region} for "
            f"{step.period.year_from}-{step.period.year_to}"
        )
    adjustment = c.AdjustQuota(
        quota_id=quota.id,
        reason=step.reason,
        reference=f"proposal {step.proposal_id}",
        delta=step.delta,
        new_limit=step.new_limit,
        proposal_id=step.proposal_id,
    )
    await _adjust(uow, adjustment, now=now)


def _require_inside(region: str, kato: str) -> None:
    if territory_code(kato)[1] != region:
        raise InvalidInput(f"territory {kato} lies outside the proposal's region {region}")


def _refusal(
    cmd: ApplyProposal, error: DomainError, *, now: datetime
) -> wire.ProposalEffectRefused:
    reason = next((r for cls, r in REFUSALS if isinstance(error, cls)), wire.RefusalReason.INVALID)
    return wire.ProposalEffectRefused(
        proposal_id=cmd.proposal_id,
        region=cmd.region,
        effect=cmd.effect,
        reason=reason,
        detail=error.detail,
        refused_at=now,
    )


# --- helpers --------------------------------------------------------------------------------


async def _quota(uow: AnyUnitOfWork, quota_id: UUID) -> Quota:
    quota = await uow.quotas.get_quota(quota_id)
    if quota is None:
        raise QuotaNotFound(f"no quota {quota_id}")
    return quota


async def _reservation(uow: AnyUnitOfWork, application_id: UUID) -> Reservation:
    reservation = await uow.quotas.get_reservation(application_id)
    if reservation is None:
        raise ReservationNotFound(f"no reservation for application {application_id}")
    return reservation


def _category(quota: Quota) -> wire.LabourCategory | None:
    return None if quota.category is None else wire.LabourCategory(quota.category)


Handler = Callable[[Any, AnyUnitOfWork, Clock], Awaitable[Any]]

HANDLERS: dict[type[Any], Handler] = {
    c.EstablishQuota: establish_quota,
    c.AdjustQuota: adjust_quota,
    c.DesignateTerritory: designate_territory,
    c.ExcludeTerritory: exclude_territory,
    c.ReserveQuota: reserve_quota,
    c.ConsumeReservation: consume_reservation,
    c.ReleaseReservation: release_reservation,
    c.ExpireReservations: expire_reservations,
    c.ImportQuotaOrder: import_quota_order,
    ApplyProposal: apply_proposal,
}
