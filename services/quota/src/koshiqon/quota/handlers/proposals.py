"""Applying an approved proposal's effect, or publishing why it cannot be applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from koshiqon.common.errors import DomainError, InvalidInput
from koshiqon.common.events import quota as wire
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import (
    AlreadyDesignated,
    BelowUsed,
    NotDesignated,
    QuotaClosed,
    QuotaNotFound,
    TerritoryExcludedAlready,
    TerritoryNotFound,
)
from koshiqon.quota.domain.model import (
    Period,
    territory_code,
)
from koshiqon.quota.handlers.quotas import adjust
from koshiqon.quota.handlers.shared import Clock
from koshiqon.quota.handlers.territories import designate, exclude
from koshiqon.quota.unit_of_work import AnyUnitOfWork

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
        if not await uow.proposals.claim_proposal(cmd.proposal_id, now=now):
            return False
        try:
            async with uow.savepoint():
                for step in cmd.steps:
                    await _apply_step(uow, cmd, step, now=now)
        except DomainError as error:
            await uow.proposals.mark_proposal_refused(cmd.proposal_id)
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
        await designate(uow, step, now=now)
    else:
        _require_inside(cmd.region, step.kato)
        ids = await uow.territories.active_territories(step.kato, step.kinds)
        if not ids:
            raise TerritoryNotFound(f"territory {step.kato} has no designation to exclude")
        for territory_id in ids:
            exclusion = c.ExcludeTerritory(
                territory_id, step.effective_from, step.decision, proposal_id=step.proposal_id
            )
            await exclude(uow, exclusion, now=now)


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
    await adjust(uow, adjustment, now=now)


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
