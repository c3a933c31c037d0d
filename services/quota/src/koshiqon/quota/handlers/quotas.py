"""Establishing and adjusting quotas, and announcing the thresholds their use reaches."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from koshiqon.common import kz
from koshiqon.common.errors import DomainError
from koshiqon.common.events import quota as wire
from koshiqon.quota.bus import Deps
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import (
    BelowUsed,
    DuplicateQuota,
    InvalidAdjustment,
    NotDesignated,
    QuotaClosed,
    QuotaNotFound,
)
from koshiqon.quota.domain.model import (
    Counters,
    Quota,
    QuotaSpec,
    QuotaStatus,
    TerritoryKind,
)
from koshiqon.quota.handlers.shared import category_of, get_quota
from koshiqon.quota.unit_of_work import UnitOfWork


async def establish_quota(cmd: c.EstablishQuota, deps: Deps) -> Quota:
    async with deps.uow() as uow:
        quota = await establish(
            uow, cmd.spec, reference=cmd.reference, actor=cmd.actor.subject, now=deps.now()
        )
        await uow.commit()
    return quota


async def establish(
    uow: UnitOfWork,
    spec: QuotaSpec,
    *,
    reference: str | None,
    actor: str | None,
    now: datetime,
) -> Quota:
    """The quota, its history entry (by `actor`) and its event; refused when an active quota
    of its series overlaps it or its region has no designated territory it needs.

    A quota whose period has already ended (in Kazakhstan's time) is history: it is recorded
    closed, takes no reservation and needs no designation today; it is refused when any
    quota of its series, closed ones included, covers its years."""
    history = is_history(spec, now=now)
    await uow.quotas.lock_series(spec.kind, spec.region, spec.category)
    await _require_establishable(uow, spec, history=history)
    status = QuotaStatus.CLOSED if history else QuotaStatus.ACTIVE
    quota = await uow.quotas.add_quota(spec, now=now, status=status)
    await uow.quotas.add_history(
        quota.id,
        previous=None,
        limit=spec.limit,
        reason="established",
        reference=reference,
        proposal_id=None,
        actor=actor,
        now=now,
    )
    uow.emit(_established(quota, reference=reference, now=now), subject=quota.id)
    return quota


def is_history(spec: QuotaSpec, *, now: datetime) -> bool:
    """Whether the spec's period ended before the current year in Kazakhstan at `now`."""
    return spec.period.year_to < kz.kz_year(now)


async def _require_establishable(uow: UnitOfWork, spec: QuotaSpec, *, history: bool) -> None:
    if await uow.quotas.overlapping_quota(spec, closed_too=history) is not None:
        which = "a" if history else "an active"
        raise DuplicateQuota(
            f"{which} {spec.kind} quota of region {spec.region} already covers "
            f"{spec.period.year_from}-{spec.period.year_to}"
        )
    if history:
        return
    if spec.kind.needs_designation and not await uow.territories.designated(
        kind=TerritoryKind(spec.kind), region=spec.region, target=spec.region, on=None
    ):
        raise NotDesignated(
            f"region {spec.region} has no territory designated for {spec.kind} resettlement",
            field="region",
        )


def _established(quota: Quota, *, reference: str | None, now: datetime) -> wire.QuotaEstablished:
    return wire.QuotaEstablished(
        quota_id=quota.id,
        kind=wire.QuotaKind(quota.kind),
        region=quota.region,
        year_from=quota.period.year_from,
        year_to=quota.period.year_to,
        category=category_of(quota),
        limit=quota.limit,
        reference=reference,
        established_at=now,
        closed=quota.status is QuotaStatus.CLOSED,
    )


async def adjust_quota(cmd: c.AdjustQuota, deps: Deps) -> Quota:
    async with deps.uow() as uow:
        quota = await adjust(uow, cmd, actor=cmd.actor.subject, now=deps.now())
        await uow.commit()
    return quota


async def adjust(uow: UnitOfWork, cmd: c.AdjustQuota, *, actor: str | None, now: datetime) -> Quota:
    """The adjustment, its history entry (by `actor`) and its events."""
    _require_one_change(cmd)
    changed = await uow.quotas.change_limit(
        cmd.quota_id, delta=cmd.delta, new_limit=cmd.new_limit, now=now
    )
    if changed is None:
        raise await _why_not_adjusted(uow, cmd.quota_id)
    previous, counters = changed
    await uow.quotas.add_history(
        cmd.quota_id,
        previous=previous,
        limit=counters.limit,
        reason=cmd.reason,
        reference=cmd.reference,
        proposal_id=cmd.proposal_id,
        actor=actor,
        now=now,
    )
    quota = await get_quota(uow, cmd.quota_id)
    uow.emit(_adjusted(quota, cmd, previous=previous, now=now), subject=quota.id)
    await announce_thresholds(uow, quota, now=now)
    return quota


def _require_one_change(cmd: c.AdjustQuota) -> None:
    if (cmd.delta is None) == (cmd.new_limit is None):
        raise InvalidAdjustment("give exactly one of delta and new_limit", field="delta")
    if cmd.delta == 0:
        raise InvalidAdjustment(
            "an adjustment changes the limit: delta must not be 0", field="delta"
        )


def _adjusted(
    quota: Quota, cmd: c.AdjustQuota, *, previous: int, now: datetime
) -> wire.QuotaAdjusted:
    return wire.QuotaAdjusted(
        quota_id=quota.id,
        kind=wire.QuotaKind(quota.kind),
        region=quota.region,
        year_from=quota.period.year_from,
        year_to=quota.period.year_to,
        category=category_of(quota),
        previous_limit=previous,
        limit=quota.limit,
        delta=quota.limit - previous,
        reason=cmd.reason,
        reference=cmd.reference,
        proposal_id=cmd.proposal_id,
        adjusted_at=now,
    )


async def _why_not_adjusted(uow: UnitOfWork, quota_id: UUID) -> DomainError:
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


async def announce_thresholds(uow: UnitOfWork, quota: Quota, *, now: datetime) -> None:
    reached, counters = await uow.quotas.announce_thresholds(quota.id)
    emit_thresholds(uow, quota, tuple(reached), counters, now=now)


def emit_thresholds(
    uow: UnitOfWork,
    quota: Quota,
    reached: tuple[int, ...],
    counters: Counters,
    *,
    now: datetime,
) -> None:
    for threshold in reached:
        uow.emit(threshold_reached(quota, threshold, counters, now=now), subject=quota.id)


def threshold_reached(
    quota: Quota, threshold: int, counters: Counters, *, now: datetime
) -> wire.QuotaThresholdReached:
    return wire.QuotaThresholdReached(
        quota_id=quota.id,
        kind=wire.QuotaKind(quota.kind),
        region=quota.region,
        year_from=quota.period.year_from,
        year_to=quota.period.year_to,
        category=category_of(quota),
        threshold=wire.Threshold(str(threshold)),
        limit=counters.limit,
        reserved=counters.reserved,
        consumed=counters.consumed,
        reached_at=now,
    )
