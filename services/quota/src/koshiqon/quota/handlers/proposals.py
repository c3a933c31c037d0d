"""Applying an approved proposal's effect, or publishing why it cannot be applied: the
command, and the proposals.v1 event that asks for it (proposal-approved)."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Self
from uuid import UUID

from koshiqon.common.errors import DomainError
from koshiqon.common.events import proposals as proposal_events
from koshiqon.common.events import quota as wire
from koshiqon.common.events.contracts import REGISTRY, EventPayload
from koshiqon.quota.bus import Deps
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import (
    AlreadyDesignated,
    BelowUsed,
    NotDesignated,
    OutsideProposalRegion,
    QuotaClosed,
    QuotaNotFound,
    TerritoryExcludedAlready,
    TerritoryNotFound,
)
from koshiqon.quota.domain.model import Category, Kind, Period, TerritoryKind, territory_code
from koshiqon.quota.handlers.quotas import adjust
from koshiqon.quota.handlers.territories import designate, exclude
from koshiqon.quota.unit_of_work import UnitOfWork

log = logging.getLogger("koshiqon.quota.proposals")

REFUSALS: tuple[tuple[type[DomainError], wire.RefusalReason], ...] = (
    (QuotaNotFound, wire.RefusalReason.NO_QUOTA),
    (QuotaClosed, wire.RefusalReason.NO_QUOTA),
    (BelowUsed, wire.RefusalReason.BELOW_USED),
    (TerritoryNotFound, wire.RefusalReason.NOT_DESIGNATED),
    (TerritoryExcludedAlready, wire.RefusalReason.NOT_DESIGNATED),
    (NotDesignated, wire.RefusalReason.NOT_DESIGNATED),
    (AlreadyDesignated, wire.RefusalReason.ALREADY_DESIGNATED),
)


async def apply_proposal(cmd: c.ApplyProposal, deps: Deps) -> bool:
    """Apply an approved proposal's effect, or publish why it cannot be. Once per proposal:
    a repeat (even under a new event id: the proposals service sends a stuck approval
    again) has no second effect, and gets the first answer again -- the events that named
    the proposal, as first published -- so an answer lost on the way heals. True when
    applied."""
    now = deps.now()
    async with deps.uow() as uow:
        if not await uow.proposals.claim_proposal(cmd.proposal_id, now=now):
            await _answer_again(uow, cmd)
            await uow.commit()
            return False
        answer = _Answer(uow, cmd.proposal_id)
        try:
            async with uow.savepoint():
                for step in cmd.steps:
                    await _apply_step(answer, cmd, step, now=now)
        except DomainError as error:
            answer.forget()  # the savepoint undid the steps' events
            await uow.proposals.mark_proposal_refused(cmd.proposal_id)
            answer.emit(_refusal(cmd, error, now=now), subject=cmd.proposal_id)
            await uow.proposals.record_answer(cmd.proposal_id, answer.kept)
            await uow.commit()
            return False
        await uow.proposals.record_answer(cmd.proposal_id, answer.kept)
        await uow.commit()
    return True


async def _answer_again(uow: UnitOfWork, cmd: c.ApplyProposal) -> None:
    kept = await uow.proposals.answer_of(cmd.proposal_id)
    if kept is None:
        log.info("quota.proposal-repeat-unanswered", extra={"proposal_id": str(cmd.proposal_id)})
        return
    for event in kept:
        payload = REGISTRY.get(event["type"]).payload.model_validate(event["data"])
        uow.emit(payload, subject=event["subject"])


class _Answer:
    """The unit of work as the effect's steps see it, keeping the events that name the
    proposal (quota-adjusted, territory-designated, territory-excluded,
    proposal-effect-refused) for a repeated approval; the others (a threshold reached) are
    no answer and are not sent twice."""

    def __init__(self, uow: UnitOfWork, proposal_id: UUID) -> None:
        self._uow = uow
        self._proposal_id = proposal_id
        self.quotas = uow.quotas
        self.ledger = uow.ledger
        self.territories = uow.territories
        self.proposals = uow.proposals
        self.kept: list[dict[str, Any]] = []

    def emit(self, *payloads: EventPayload, subject: object) -> None:
        self._uow.emit(*payloads, subject=subject)
        self.kept += [
            {"type": p.contract.type, "subject": str(subject), "data": p.model_dump(mode="json")}
            for p in payloads
            if getattr(p, "proposal_id", None) == self._proposal_id
        ]

    def forget(self) -> None:
        self.kept = []

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        return self._uow.savepoint()

    async def commit(self) -> None:
        await self._uow.commit()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


async def _apply_step(
    uow: UnitOfWork, cmd: c.ApplyProposal, step: c.ProposalStep, *, now: datetime
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
                territory_id,
                step.effective_from,
                step.decision,
                proposal_id=step.proposal_id,
                actor=cmd.actor,
            )
            await exclude(uow, exclusion, now=now)


async def _adjust_of(
    uow: UnitOfWork, cmd: c.ApplyProposal, step: c.AdjustQuotaOf, *, now: datetime
) -> None:
    """The adjustment of the quota the step describes; its history names the proposal (in
    `reference` and `proposal_id`) and no actor."""
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
        actor=cmd.actor,
    )
    await adjust(uow, adjustment, actor=None, now=now)


def _require_inside(region: str, kato: str) -> None:
    if territory_code(kato)[1] != region:
        raise OutsideProposalRegion(f"territory {kato} lies outside the proposal's region {region}")


def _refusal(
    cmd: c.ApplyProposal, error: DomainError, *, now: datetime
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


# --- proposals.v1 -----------------------------------------------------------------------------


async def on_proposal_approved(event: proposal_events.ProposalApproved, deps: Deps) -> None:
    await apply_proposal(_approved(event), deps)


def _approved(event: proposal_events.ProposalApproved) -> c.ApplyProposal:
    effect = event.effect
    steps: tuple[c.ProposalStep, ...]
    if isinstance(effect, proposal_events.AdjustQuotaEffect):
        steps = (_adjustment(event, effect),)
    elif isinstance(effect, proposal_events.DesignateTerritoryEffect):
        steps = tuple(
            c.DesignateTerritory(
                kato=effect.kato,
                kind=TerritoryKind(kind),
                effective_from=effect.effective_from,
                decision=effect.decision,
                proposal_id=event.proposal_id,
                actor=c.WORKER,
            )
            for kind in dict.fromkeys(effect.kinds)
        )
    else:
        steps = (_exclusion(event, effect),)
    return c.ApplyProposal(event.proposal_id, event.region, effect.type, steps, actor=c.WORKER)


def _adjustment(
    event: proposal_events.ProposalApproved, effect: proposal_events.AdjustQuotaEffect
) -> c.AdjustQuotaOf:
    return c.AdjustQuotaOf(
        proposal_id=event.proposal_id,
        kind=Kind(effect.kind),
        region=event.region,
        period=Period(effect.year, effect.year_to or effect.year),
        category=Category(effect.category) if effect.category else None,
        reason=effect.reason,
        delta=effect.delta,
        new_limit=effect.new_limit,
    )


def _exclusion(
    event: proposal_events.ProposalApproved, effect: proposal_events.ExcludeTerritoryEffect
) -> c.ExcludeTerritoriesOf:
    kinds = effect.kinds or list(TerritoryKind)
    return c.ExcludeTerritoriesOf(
        proposal_id=event.proposal_id,
        kato=effect.kato,
        kinds=tuple(TerritoryKind(k) for k in dict.fromkeys(kinds)),
        effective_from=effect.effective_from,
        decision=effect.decision,
    )
