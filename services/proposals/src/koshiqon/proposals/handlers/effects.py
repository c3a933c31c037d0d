"""The proposal-effect saga on the proposals side: quota's answers (quota.v1) turn an approved
proposal applied or application_failed, once, whatever the duplicates and their order; the
worker sends again the approvals quota has not answered (stuck)."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from koshiqon.common.events import quota as quota_events
from koshiqon.proposals.bus import Deps
from koshiqon.proposals.domain import commands as c
from koshiqon.proposals.domain import model
from koshiqon.proposals.handlers.shared import save
from koshiqon.proposals.metrics import APPROVALS_REPUBLISHED, STUCK_PROPOSALS

log = logging.getLogger("koshiqon.proposals")


async def record_effect_applied(cmd: c.RecordEffectApplied, deps: Deps) -> bool:
    async with deps.uow() as uow:
        proposal = await uow.proposals.get(cmd.proposal_id)
        outcome = (
            None
            if proposal is None
            else model.applied(proposal, now=deps.now(), details=cmd.details)
        )
        if outcome is None:
            log.info("proposals.answer-ignored", extra={"proposal_id": str(cmd.proposal_id)})
            return False
        await save(uow, outcome)
        await uow.commit()
    return True


async def record_effect_refused(cmd: c.RecordEffectRefused, deps: Deps) -> bool:
    async with deps.uow() as uow:
        proposal = await uow.proposals.get(cmd.proposal_id)
        outcome = (
            None
            if proposal is None
            else model.application_failed(
                proposal, reason=cmd.reason, detail=cmd.detail, now=deps.now()
            )
        )
        if outcome is None:
            log.info("proposals.answer-ignored", extra={"proposal_id": str(cmd.proposal_id)})
            return False
        await save(uow, outcome)
        await uow.commit()
    return True


async def republish_stuck(cmd: c.RepublishStuck, deps: Deps) -> int:
    """Approvals unanswered for longer than the stuck time, sent again at most once per that
    time; the stuck gauge counts them all."""
    now = deps.now()
    cutoff = now - deps.policy.stuck_after
    async with deps.uow() as uow:
        stuck = await uow.proposals.stuck(
            approved_before=cutoff, published_before=cutoff, limit=cmd.limit
        )
        for proposal in stuck:
            await save(uow, model.republish(proposal, now=now))
        STUCK_PROPOSALS.set(await uow.proposals.count_stuck(approved_before=cutoff))
        await uow.commit()
    if stuck:
        APPROVALS_REPUBLISHED.inc(len(stuck))
        log.warning("proposals.stuck-approvals-republished", extra={"count": len(stuck)})
    return len(stuck)


# --- quota.v1 ------------------------------------------------------------------------------------


async def on_quota_adjusted(event: quota_events.QuotaAdjusted, deps: Deps) -> None:
    if event.proposal_id is not None:
        details = {
            "quota_id": str(event.quota_id),
            "previous_limit": event.previous_limit,
            "limit": event.limit,
            "delta": event.delta,
        }
        await _applied(event.proposal_id, details, deps)


async def on_territory_designated(event: quota_events.TerritoryDesignated, deps: Deps) -> None:
    if event.proposal_id is not None:
        details = {
            "territory_id": str(event.territory_id),
            "kato": event.kato,
            "kind": event.kind.value,
        }
        await _applied(event.proposal_id, details, deps)


async def on_territory_excluded(event: quota_events.TerritoryExcluded, deps: Deps) -> None:
    if event.proposal_id is not None:
        details = {
            "territory_id": str(event.territory_id),
            "kato": event.kato,
            "kind": event.kind.value,
        }
        await _applied(event.proposal_id, details, deps)


async def on_proposal_effect_refused(event: quota_events.ProposalEffectRefused, deps: Deps) -> None:
    command = c.RecordEffectRefused(
        proposal_id=event.proposal_id,
        reason=event.reason.value,
        detail=event.detail,
        actor=c.WORKER,
    )
    await record_effect_refused(command, deps)


async def _applied(proposal_id: UUID, details: dict[str, Any], deps: Deps) -> None:
    command = c.RecordEffectApplied(proposal_id=proposal_id, details=details, actor=c.WORKER)
    await record_effect_applied(command, deps)
