"""The workflow's pure functions (domain/model.py): every action from every state is either
the transition the table names or a refusal naming the state and what it allows; the effect
of each type; overdue and stuck."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from koshiqon.common.events import proposals as wire
from koshiqon.common.events.proposals import EvidenceStatus, ProposalType
from koshiqon.common.messagebus import Actor
from koshiqon.proposals.domain import model
from koshiqon.proposals.domain.errors import IllegalTransition
from koshiqon.proposals.domain.model import TRANSITIONS, Action, Evidence, Proposal, Status
from koshiqon.proposals.domain.payloads import (
    Horizon,
    RegionalQuotaPayload,
    ResettlementKind,
    TerritoryPayload,
    empty_checklist,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
REGION = "550000000"
AKIMAT = Actor(subject="akimat", region=REGION)
MINISTRY = Actor(subject="ministry")
QUOTA = RegionalQuotaPayload(ResettlementKind.KANDAS, 40, Horizon(2027, 2029))


def proposal(status: Status, payload: Any = QUOTA, type_: ProposalType | None = None) -> Proposal:
    return Proposal(
        id=uuid.uuid4(), region=REGION, type=type_ or ProposalType.REGIONAL_QUOTA_CHANGE,
        status=status, payload=payload, justification="j", documents=(), version=1,
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def run(p: Proposal, action: Action) -> model.Outcome:
    if action is Action.EDIT:
        return model.edit(p, expected_version=1, payload=None, justification="k",
                          documents=None, actor=AKIMAT, now=NOW)  # fmt: skip
    if action is Action.SUBMIT:
        return model.submit(p, evidence=Evidence(EvidenceStatus.PENDING),
                            review_deadline=timedelta(days=1), comment=None, actor=AKIMAT,
                            now=NOW)  # fmt: skip
    if action is Action.WITHDRAW:
        return model.withdraw(p, comment=None, actor=AKIMAT, now=NOW)
    if action is Action.REVIEW:
        return model.review(p, comment=None, actor=MINISTRY, now=NOW)
    if action is Action.APPROVE:
        return model.approve(p, delta=None, comment=None, actor=MINISTRY, now=NOW)
    if action is Action.REJECT:
        return model.reject(p, reason="r", comment=None, actor=MINISTRY, now=NOW)
    return model.return_proposal(p, reason="r", comment=None, actor=MINISTRY, now=NOW)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", sorted(model.API_ACTIONS))
def test_every_action_from_every_state(status: Status, action: Action) -> None:
    target = TRANSITIONS.get(status, {}).get(action)
    if target is None:
        with pytest.raises(IllegalTransition) as refused:
            run(proposal(status), action)
        assert refused.value.extra["current_status"] == status.value
        assert refused.value.extra["allowed_actions"] == model.allowed_actions(status)
        return
    outcome = run(proposal(status), action)
    assert (outcome.proposal.status, outcome.proposal.version) == (target, 2)
    t = outcome.transition
    assert (t.action, t.from_status, t.to_status, t.at) == (action, status, target, NOW)


def test_the_effect_of_each_type() -> None:
    medium = model.effect_of(proposal(Status.UNDER_REVIEW), 25)
    assert isinstance(medium, wire.AdjustQuotaEffect)
    assert (medium.kind, medium.year, medium.year_to, medium.delta) == ("kandas", 2027, 2029, 25)
    territory = TerritoryPayload(ResettlementKind.MIGRANT, "551010000", NOW.date())
    excluded = model.effect_of(proposal(Status.UNDER_REVIEW, territory,
                                        ProposalType.TERRITORY_EXCLUSION), None)  # fmt: skip
    assert isinstance(excluded, wire.ExcludeTerritoryEffect)
    assert (excluded.kato, excluded.kinds) == ("551010000", ["migrant"])
    measures = proposal(Status.UNDER_REVIEW, empty_checklist(), ProposalType.MEASURES)
    assert model.effect_of(measures, None) is None
    approved = model.approve(measures, delta=None, comment=None, actor=MINISTRY, now=NOW)
    assert [type(e) for e in approved.events] == [wire.MeasuresApproved]


def test_overdue_and_stuck() -> None:
    submitted = replace(proposal(Status.SUBMITTED), review_due_at=NOW)
    assert not submitted.overdue(NOW)
    assert submitted.overdue(NOW + timedelta(seconds=1))
    assert not replace(submitted, status=Status.APPROVED).overdue(NOW + timedelta(days=9))
    approved = model.approve(proposal(Status.UNDER_REVIEW), delta=None, comment=None,
                             actor=MINISTRY, now=NOW).proposal  # fmt: skip
    hour = timedelta(hours=1)
    assert not approved.stuck(NOW + hour, after=hour)
    assert approved.stuck(NOW + hour + timedelta(seconds=1), after=hour)
    assert model.applied(approved, now=NOW, details={}) is not None
    assert model.applied(replace(approved, status=Status.APPLIED), now=NOW, details={}) is None
