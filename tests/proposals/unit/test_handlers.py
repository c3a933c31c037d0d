"""The proposals handlers' rules, driven through the composition root (`bootstrap.bootstrap`)
with an in-memory unit of work and evidence source (proposals/fakes.py): no database, no
patching."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from proposals.fakes import FakeEvidence, FakeUnitOfWork
from proposals.helpers import NORTH_KAZ, PAVLODAR, Clock

from koshiqon.common.errors import InvalidInput
from koshiqon.common.events import monitoring as m
from koshiqon.common.events import proposals as wire
from koshiqon.common.events.proposals import ProposalType
from koshiqon.common.messagebus import Actor, OutsideRegion
from koshiqon.proposals.bootstrap import bootstrap
from koshiqon.proposals.bus import Bus, Policy
from koshiqon.proposals.domain import commands as c
from koshiqon.proposals.domain.errors import (
    AkimatOnly,
    IllegalTransition,
    InvalidProposal,
    NationwideOnly,
    ProposalNotFound,
    RulesState,
    StaleVersion,
    VersionRequired,
)
from koshiqon.proposals.domain.model import Status
from koshiqon.proposals.handlers import EVENT_HANDLERS

AKIMAT = Actor(subject="akimat", agency="akimat", region=PAVLODAR)
OTHER = Actor(subject="other", region=NORTH_KAZ)
MINISTRY = Actor(subject="ministry", agency="ministry")
QUOTA = {"kind": "kandas", "delta": 40, "horizon": {"year": 2027}}


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def evidence() -> FakeEvidence:
    return FakeEvidence()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bus(uow: FakeUnitOfWork, evidence: FakeEvidence, clock: Clock) -> Bus:
    policy = Policy(review_deadline=timedelta(days=5), stuck_after=timedelta(minutes=30))
    return bootstrap(lambda: uow, evidence=evidence, now=clock, policy=policy)


async def filed(bus: Bus, payload: dict[str, Any] | None = None) -> uuid.UUID:
    proposal = await bus.handle(c.FileProposal(
        region=PAVLODAR, type=ProposalType.REGIONAL_QUOTA_CHANGE, payload=payload or QUOTA,
        justification="vacancies", documents=(), actor=AKIMAT,
    ))  # fmt: skip
    return proposal.id


async def under_review(bus: Bus) -> uuid.UUID:
    pid = await filed(bus)
    await bus.handle(c.SubmitProposal(proposal_id=pid, actor=AKIMAT))
    await bus.handle(c.ReviewProposal(proposal_id=pid, actor=MINISTRY))
    return pid


async def test_submission_freezes_the_evidence_or_leaves_it_pending(
    bus: Bus, uow: FakeUnitOfWork, evidence: FakeEvidence, clock: Clock
) -> None:
    frozen = await bus.handle(c.SubmitProposal(proposal_id=await filed(bus), actor=AKIMAT))
    assert frozen.evidence is not None
    assert (frozen.evidence.status, frozen.evidence.retrieved_at) == ("frozen", clock.now)
    assert frozen.review_due_at == clock.now + timedelta(days=5)
    evidence.away = True
    pending = await bus.handle(c.SubmitProposal(proposal_id=await filed(bus), actor=AKIMAT))
    assert pending.evidence is not None
    assert (pending.evidence.status, pending.status) == ("pending", Status.SUBMITTED)
    evidence.away = False
    assert await bus.handle(c.RetryEvidence(actor=c.WORKER)) == 1
    assert uow.state.proposals[pending.id].evidence.status == "frozen"  # type: ignore[union-attr]
    assert await bus.handle(c.RetryEvidence(actor=c.WORKER)) == 0
    assert uow.published_types() == ["proposal-submitted", "proposal-submitted"]


async def test_who_may_act(bus: Bus) -> None:
    pid = await filed(bus)
    with pytest.raises(ProposalNotFound):
        await bus.handle(c.SubmitProposal(proposal_id=pid, actor=OTHER))
    with pytest.raises(AkimatOnly):
        await bus.handle(c.SubmitProposal(proposal_id=pid, actor=MINISTRY))
    with pytest.raises(OutsideRegion):
        await bus.handle(c.FileProposal(region=PAVLODAR, type=ProposalType.MEASURES,
                                        payload={"checklist": [{"measure": "social_adaptation"}]},
                                        justification="j", documents=(), actor=OTHER))  # fmt: skip
    await bus.handle(c.SubmitProposal(proposal_id=pid, actor=AKIMAT))
    with pytest.raises(NationwideOnly):
        await bus.handle(c.ReviewProposal(proposal_id=pid, actor=AKIMAT))
    with pytest.raises(InvalidProposal):
        await bus.handle(c.FileProposal(region="123456789", type=ProposalType.MEASURES,
                                        payload={}, justification="j", documents=(),
                                        actor=AKIMAT))  # fmt: skip


async def test_edit_needs_the_current_version(bus: Bus) -> None:
    pid = await filed(bus)
    with pytest.raises(VersionRequired):
        await bus.handle(c.EditProposal(proposal_id=pid, expected_version=None,
                                        justification="x", actor=AKIMAT))  # fmt: skip
    with pytest.raises(StaleVersion):
        await bus.handle(c.EditProposal(proposal_id=pid, expected_version=2,
                                        justification="x", actor=AKIMAT))  # fmt: skip
    edit = c.EditProposal(
        proposal_id=pid, expected_version=1, payload={**QUOTA, "delta": -3}, actor=AKIMAT
    )
    edited = await bus.handle(edit)
    assert (edited.version, edited.status, edited.payload.delta) == (2, Status.DRAFT, -3)  # type: ignore[union-attr]


async def test_an_amended_approval_publishes_the_approved_effect(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    pid = await under_review(bus)
    approved = await bus.handle(c.ApproveProposal(proposal_id=pid, delta=25, actor=MINISTRY))
    assert (approved.approved_delta, approved.status) == (25, Status.APPROVED)
    event = uow.published[-1]
    assert isinstance(event.payload, wire.ProposalApproved)
    assert event.subject == str(pid)
    effect = event.payload.effect
    assert isinstance(effect, wire.AdjustQuotaEffect)
    assert (effect.delta, effect.kind, effect.year, effect.year_to) == (25, "kandas", 2027, None)
    assert event.payload.filed_delta == 40
    assert "vacancies" not in effect.reason  # the justification stays out of the events
    with pytest.raises(IllegalTransition) as caught:
        await bus.handle(c.ApproveProposal(proposal_id=pid, actor=MINISTRY))
    assert caught.value.extra == {"current_status": "approved", "allowed_actions": []}


async def test_quota_answers_once_and_stuck_approvals_are_sent_again(
    bus: Bus, uow: FakeUnitOfWork, clock: Clock
) -> None:
    pid = await under_review(bus)
    await bus.handle(c.ApproveProposal(proposal_id=pid, actor=MINISTRY))
    assert await bus.handle(c.RepublishStuck(actor=c.WORKER)) == 0
    clock.advance(minutes=31)
    assert await bus.handle(c.RepublishStuck(actor=c.WORKER)) == 1
    assert await bus.handle(c.RepublishStuck(actor=c.WORKER)) == 0  # once per stuck interval
    approvals = [e for e in uow.published if isinstance(e.payload, wire.ProposalApproved)]
    assert len(approvals) == 2
    assert approvals[0].payload.effect == approvals[1].payload.effect  # type: ignore[attr-defined]
    repeats = [e.payload.repeat for e in approvals]  # type: ignore[attr-defined]
    assert repeats == [False, True]  # the second is no new approval (counted once)
    refusal = c.RecordEffectRefused(proposal_id=pid, reason="no_quota", detail="no 2027 quota",
                                    actor=c.WORKER)  # fmt: skip
    assert await bus.handle(refusal) is True
    assert await bus.handle(refusal) is False
    applied = c.RecordEffectApplied(proposal_id=pid, details={}, actor=c.WORKER)
    assert await bus.handle(applied) is False
    proposal = uow.state.proposals[pid]
    assert (proposal.status, proposal.failure.reason) == ("application_failed", "no_quota")  # type: ignore[union-attr]


async def test_an_outflow_alert_opens_one_measures_draft(bus: Bus, uow: FakeUnitOfWork) -> None:
    figures = m.OutflowFigures(births=10, deaths=20, natural_increase=-10, arrivals_external=0,
                               departures_external=5, arrivals_internal=0,
                               departures_internal=5, net_departures=10)  # fmt: skip
    alert = m.OutflowAlertRaised(alert_id=uuid.uuid4(), region=NORTH_KAZ, period="year",
                                 period_from=date(2025, 1, 1), period_to=date(2025, 12, 31),
                                 figures=figures, raised_at=Clock().now)  # fmt: skip
    handler = EVENT_HANDLERS[m.OutflowAlertRaised]
    await handler(alert, bus.deps)
    await handler(alert, bus.deps)
    (draft,) = uow.state.proposals.values()
    assert (draft.region, draft.type, draft.status) == (NORTH_KAZ, "measures", "draft")
    assert uow.published_types() == ["measures-proposal-opened"]
    cleared = m.OutflowAlertCleared(**alert.model_dump(exclude={"raised_at"}),
                                    cleared_at=Clock().now)  # fmt: skip
    await EVENT_HANDLERS[m.OutflowAlertCleared](cleared, bus.deps)
    await EVENT_HANDLERS[m.OutflowAlertCleared](cleared, bus.deps)
    assert [t.action for t in uow.state.history[draft.id]] == ["create", "alert-cleared"]
    district = alert.model_copy(update={"alert_id": uuid.uuid4(), "region": "591010000"})
    with pytest.raises(InvalidInput):
        await handler(district, bus.deps)


async def test_regional_rules_one_in_force(bus: Bus, uow: FakeUnitOfWork) -> None:
    first = await bus.handle(c.DraftRules(region=PAVLODAR, title="R", text="a", actor=AKIMAT))
    second = await bus.handle(c.DraftRules(region=PAVLODAR, title="R", text="b", actor=AKIMAT))
    assert (first.version, second.version) == (1, 2)
    for rules in (first, second):
        await bus.handle(c.ApproveRules(region=PAVLODAR, rules_id=rules.id, decision_number="7",
                                        decision_date=date(2026, 2, 1), actor=AKIMAT))  # fmt: skip
    statuses = {r.version: r.status for r in uow.state.rules.values()}
    assert statuses == {1: "superseded", 2: "approved"}
    with pytest.raises(RulesState):
        await bus.handle(c.ApproveRules(region=PAVLODAR, rules_id=first.id, decision_number="8",
                                        decision_date=date(2026, 2, 1), actor=AKIMAT))  # fmt: skip
    with pytest.raises(AkimatOnly):
        await bus.handle(c.DraftRules(region=PAVLODAR, title="R", text="c", actor=MINISTRY))
    assert uow.published_types() == ["regional-rules-approved", "regional-rules-approved"]
