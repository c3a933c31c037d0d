"""Measures (§8): monitoring's outflow alerts (monitoring.v1) open a draft measures proposal
for the region's akimat, once per alert; the clearing of the alert is noted on it."""

from __future__ import annotations

import uuid

from koshiqon.common import kz
from koshiqon.common.events import monitoring
from koshiqon.proposals.bus import Deps
from koshiqon.proposals.domain import commands as c
from koshiqon.proposals.domain import model
from koshiqon.proposals.domain.model import Alert, Proposal
from koshiqon.proposals.domain.payloads import empty_checklist
from koshiqon.proposals.handlers.shared import save


async def open_measures(cmd: c.OpenMeasures, deps: Deps) -> Proposal | None:
    """The draft, or None when the alert has one. An alert for a code that is not a region's
    own is refused (InvalidInput: the consumer dead-letters it at once)."""
    kz.region_by_kato(cmd.region)
    now = deps.now()
    alert = Alert(
        alert_id=cmd.alert_id,
        period=cmd.period,
        period_from=cmd.period_from,
        period_to=cmd.period_to,
        figures=cmd.figures,
        raised_at=cmd.raised_at,
    )
    outcome = model.open_measures(
        proposal_id=uuid.uuid4(),
        region=cmd.region,
        alert=alert,
        checklist=empty_checklist(),
        now=now,
    )
    async with deps.uow() as uow:
        if not await uow.proposals.add(outcome.proposal, outcome.transition):
            return None  # this alert has its proposal already
        uow.emit(*outcome.events, subject=outcome.proposal.id)
        await uow.commit()
    return outcome.proposal


async def note_alert_cleared(cmd: c.NoteAlertCleared, deps: Deps) -> bool:
    async with deps.uow() as uow:
        proposal = await uow.proposals.by_alert(cmd.alert_id)
        outcome = (
            None
            if proposal is None
            else model.alert_cleared(proposal, cleared_at=cmd.cleared_at, now=deps.now())
        )
        if outcome is None:
            return False
        await save(uow, outcome)
        await uow.commit()
    return True


async def on_outflow_alert_raised(event: monitoring.OutflowAlertRaised, deps: Deps) -> None:
    command = c.OpenMeasures(
        alert_id=event.alert_id,
        region=event.region,
        period=event.period.value,
        period_from=event.period_from,
        period_to=event.period_to,
        figures=event.figures.model_dump(mode="json"),
        raised_at=event.raised_at,
        actor=c.WORKER,
    )
    await open_measures(command, deps)


async def on_outflow_alert_cleared(event: monitoring.OutflowAlertCleared, deps: Deps) -> None:
    command = c.NoteAlertCleared(
        alert_id=event.alert_id, cleared_at=event.cleared_at, actor=c.WORKER
    )
    await note_alert_cleared(command, deps)
