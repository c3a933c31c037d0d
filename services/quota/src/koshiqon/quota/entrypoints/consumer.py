"""What the quota service does with consumed events (group `quota`).

registration.v1: resettlement-requested → reserve; resettlement-completed → consume;
resettlement-withdrawn → release (or a tombstone when the withdrawal overtook its request).
proposals.v1: proposal-approved → apply its effect, or publish proposal-effect-refused.

Each handler runs in the consumer runner's transaction (with the `processed_events` row)
and writes its events to the outbox in it; the runner commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from koshiqon.common.consumer import EventHandler, Subscription
from koshiqon.common.events import proposals as proposal_events
from koshiqon.common.events import registration as reg
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.http.correlation import child_traceparent
from koshiqon.quota import handlers
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.model import (
    Category,
    Kind,
    Period,
    ReleaseReason,
    TerritoryKind,
)
from koshiqon.quota.handlers import ApplyProposal, Clock
from koshiqon.quota.unit_of_work import EventUnitOfWork

GROUP = "quota"
TOPICS = ("registration.v1", "proposals.v1")


def subscription(clock: Clock, *, group: str = GROUP) -> Subscription:
    return Subscription(
        group=group,
        topics=list(TOPICS),
        handlers={
            reg.ResettlementRequested.contract.type: _on(clock, _requested),
            reg.ResettlementCompleted.contract.type: _on(clock, _completed),
            reg.ResettlementWithdrawn.contract.type: _on(clock, _withdrawn),
            proposal_events.ProposalApproved.contract.type: _on(clock, _approved),
        },
    )


ToCommand = Callable[[Any], Any]


def _on(clock: Clock, to_command: ToCommand) -> EventHandler:
    async def handle(session: AsyncSession, envelope: Envelope, payload: EventPayload) -> None:
        command = to_command(payload)
        uow = EventUnitOfWork(session, traceparent=child_traceparent(envelope.traceparent))
        handler: Callable[..., Awaitable[Any]] = handlers.HANDLERS[type(command)]
        await handler(command, uow, clock)

    return handle


def _requested(event: reg.ResettlementRequested) -> c.ReserveQuota:
    return c.ReserveQuota(
        application_id=event.application_id,
        kind=Kind(event.category),
        region=event.target_region,
        year=event.target_year,
        persons=event.persons,
    )


def _completed(event: reg.ResettlementCompleted) -> c.ConsumeReservation:
    return c.ConsumeReservation(event.application_id)


def _withdrawn(event: reg.ResettlementWithdrawn) -> c.ReleaseReservation:
    tombstone = c.Tombstone(
        kind=Kind(event.category),
        region=event.target_region,
        year=event.target_year,
        persons=event.persons,
    )
    return c.ReleaseReservation(event.application_id, ReleaseReason.WITHDRAWN, tombstone)


def _approved(event: proposal_events.ProposalApproved) -> ApplyProposal:
    effect = event.effect
    steps: tuple[handlers.ProposalStep, ...]
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
            )
            for kind in dict.fromkeys(effect.kinds)
        )
    else:
        kinds = effect.kinds or list(TerritoryKind)
        steps = (
            c.ExcludeTerritoriesOf(
                proposal_id=event.proposal_id,
                kato=effect.kato,
                kinds=tuple(TerritoryKind(k) for k in dict.fromkeys(kinds)),
                effective_from=effect.effective_from,
                decision=effect.decision,
            ),
        )
    return ApplyProposal(event.proposal_id, event.region, effect.type, steps)


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


__all__ = ["GROUP", "TOPICS", "subscription"]
