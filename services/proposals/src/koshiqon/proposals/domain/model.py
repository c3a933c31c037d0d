"""The proposal aggregate and its workflow (§6, §8): frozen dataclasses and pure functions
returning the new state, the history entry and the events to emit. No I/O, no framework.

    draft → submitted → under_review → approved | rejected | returned
    returned → edited → submitted (again)
    draft | submitted | returned | edited → withdrawn (the akimat)
    approved → applied | application_failed (the quota service's answer)

An approved measures proposal (§8) has no quota effect: approved is where it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from koshiqon.common.events import proposals as wire
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.proposals import EvidenceStatus, ProposalType
from koshiqon.common.messagebus import Actor
from koshiqon.proposals.domain.errors import (
    AkimatOnly,
    IllegalTransition,
    InvalidProposal,
    NationwideOnly,
    StaleVersion,
)
from koshiqon.proposals.domain.payloads import (
    LabourQuotaPayload,
    MeasuresPayload,
    Payload,
    RegionalQuotaPayload,
    TerritoryPayload,
    has_delta,
)


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"
    EDITED = "edited"
    WITHDRAWN = "withdrawn"
    APPLIED = "applied"
    APPLICATION_FAILED = "application_failed"


class Action(StrEnum):
    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    REVIEW = "review"
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"
    WITHDRAW = "withdraw"
    APPLY = "apply"  # quota applied the effect
    FAIL = "fail"  # quota refused it
    FREEZE_EVIDENCE = "freeze-evidence"  # the worker got the snapshot after submission
    ALERT_CLEARED = "alert-cleared"  # monitoring cleared the alert a measures draft answers
    REPUBLISH = "republish"  # the worker sent a stuck approval again


TRANSITIONS: Mapping[Status, Mapping[Action, Status]] = {
    Status.DRAFT: {
        Action.EDIT: Status.DRAFT,
        Action.SUBMIT: Status.SUBMITTED,
        Action.WITHDRAW: Status.WITHDRAWN,
    },
    Status.SUBMITTED: {Action.REVIEW: Status.UNDER_REVIEW, Action.WITHDRAW: Status.WITHDRAWN},
    Status.UNDER_REVIEW: {
        Action.APPROVE: Status.APPROVED,
        Action.REJECT: Status.REJECTED,
        Action.RETURN: Status.RETURNED,
    },
    Status.RETURNED: {Action.EDIT: Status.EDITED, Action.WITHDRAW: Status.WITHDRAWN},
    Status.EDITED: {
        Action.EDIT: Status.EDITED,
        Action.SUBMIT: Status.SUBMITTED,
        Action.WITHDRAW: Status.WITHDRAWN,
    },
    Status.APPROVED: {Action.APPLY: Status.APPLIED, Action.FAIL: Status.APPLICATION_FAILED},
}
"""Every legal transition; anything else is refused (409 naming the state)."""

FILER_ACTIONS = frozenset({Action.EDIT, Action.SUBMIT, Action.WITHDRAW})
DECIDER_ACTIONS = frozenset({Action.REVIEW, Action.APPROVE, Action.REJECT, Action.RETURN})
API_ACTIONS = FILER_ACTIONS | DECIDER_ACTIONS
AWAITING_REVIEW = frozenset({Status.SUBMITTED, Status.UNDER_REVIEW})


def allowed_actions(status: Status) -> list[str]:
    """What a caller of the API may do from `status` (quota's answers are not the API's)."""
    return [a.value for a in TRANSITIONS.get(status, {}) if a in API_ACTIONS]


@dataclass(frozen=True)
class Document:
    """A supporting document: its number, date and title."""

    number: str
    date: date
    title: str


@dataclass(frozen=True)
class Evidence:
    """The region's indicators from monitoring, frozen at submission (§5 → §6)."""

    status: EvidenceStatus
    snapshot: Mapping[str, Any] | None = None
    retrieved_at: datetime | None = None


@dataclass(frozen=True)
class Alert:
    """The outflow alert (§8) a measures proposal answers, with its figures."""

    alert_id: UUID
    period: str
    period_from: date
    period_to: date
    figures: Mapping[str, Any]
    raised_at: datetime
    cleared_at: datetime | None = None


@dataclass(frozen=True)
class Failure:
    reason: str
    detail: str


@dataclass(frozen=True)
class Proposal:
    id: UUID
    region: str
    type: ProposalType
    status: Status
    payload: Payload
    justification: str
    documents: tuple[Document, ...]
    version: int
    created_at: datetime
    updated_at: datetime
    evidence: Evidence | None = None
    submitted_at: datetime | None = None
    review_due_at: datetime | None = None
    approved_delta: int | None = None
    effect: Mapping[str, Any] | None = None
    approved_at: datetime | None = None
    published_at: datetime | None = None
    failure: Failure | None = None
    alert: Alert | None = None

    def overdue(self, now: datetime) -> bool:
        return (
            self.status in AWAITING_REVIEW
            and self.review_due_at is not None
            and self.review_due_at < now
        )

    def stuck(self, now: datetime, *, after: timedelta) -> bool:
        """Approved with a quota effect, and no answer from quota for longer than `after`."""
        return (
            self.status is Status.APPROVED
            and self.effect is not None
            and self.approved_at is not None
            and self.approved_at + after < now
        )


@dataclass(frozen=True)
class Transition:
    """One entry of a proposal's history."""

    action: Action
    from_status: Status | None
    to_status: Status
    actor: str
    agency: str | None
    at: datetime
    comment: str | None = None
    reason: str | None = None
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """What a use case did: the proposal as it is now, its history entry, its events."""

    proposal: Proposal
    transition: Transition
    events: tuple[EventPayload, ...] = ()


# --- who may act --------------------------------------------------------------------------------


def require_filer(actor: Actor, region: str) -> None:
    """The akimat of `region`: a token limited to that very region."""
    if actor.region is None:
        raise AkimatOnly(
            "proposals and regional rules are filed by the region's akimat: a token of the region"
        )
    actor.require_region(region, field="region")


def require_decider(actor: Actor) -> None:
    if actor.region is not None:
        raise NationwideOnly("proposals are decided by the authorized migration body")


def visible_to(actor: Actor, proposal: Proposal) -> bool:
    return actor.may_act_in(proposal.region)


# --- the workflow -------------------------------------------------------------------------------


def file_proposal(
    *,
    proposal_id: UUID,
    region: str,
    type_: ProposalType,
    payload: Payload,
    justification: str,
    documents: tuple[Document, ...],
    actor: Actor,
    now: datetime,
) -> Outcome:
    """A new draft of the akimat of `region`."""
    require_filer(actor, region)
    proposal = Proposal(
        id=proposal_id,
        region=region,
        type=type_,
        status=Status.DRAFT,
        payload=payload,
        justification=justification,
        documents=documents,
        version=1,
        created_at=now,
        updated_at=now,
    )
    return Outcome(proposal, _entry(Action.CREATE, None, Status.DRAFT, actor, now))


def open_measures(
    *, proposal_id: UUID, region: str, alert: Alert, checklist: MeasuresPayload, now: datetime
) -> Outcome:
    """A draft measures proposal (§8) for the akimat of `region`, on an outflow alert."""
    proposal = Proposal(
        id=proposal_id,
        region=region,
        type=ProposalType.MEASURES,
        status=Status.DRAFT,
        payload=checklist,
        justification="Outflow exceeds reproduction (§8)",
        documents=(),
        version=1,
        created_at=now,
        updated_at=now,
        alert=alert,
    )
    event = wire.MeasuresProposalOpened(
        proposal_id=proposal_id, region=region, alert_id=alert.alert_id, opened_at=now
    )
    transition = _entry(
        Action.CREATE,
        None,
        Status.DRAFT,
        Actor(subject="monitoring"),
        now,
        details={"alert_id": str(alert.alert_id)},
    )
    return Outcome(proposal, transition, (event,))


def _entry(
    action: Action,
    before: Status | None,
    after: Status,
    actor: Actor,
    now: datetime,
    *,
    comment: str | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Transition:
    return Transition(
        action, before, after, actor.subject, actor.agency, now, comment, reason, details
    )


def _next(proposal: Proposal, action: Action) -> Status:
    target = TRANSITIONS.get(proposal.status, {}).get(action)
    if target is None:
        raise IllegalTransition(
            action.value, proposal.status.value, allowed_actions(proposal.status)
        )
    return target


def check_action(proposal: Proposal, action: Action, actor: Actor) -> None:
    """Refuse an action the caller may not take, or one not allowed from the state."""
    if action in FILER_ACTIONS:
        require_filer(actor, proposal.region)
    elif action in DECIDER_ACTIONS:
        require_decider(actor)
    _next(proposal, action)


def edit(
    proposal: Proposal,
    *,
    expected_version: int,
    payload: Payload | None,
    justification: str | None,
    documents: tuple[Document, ...] | None,
    actor: Actor,
    now: datetime,
) -> Outcome:
    """A change of a draft, or of a returned proposal (which becomes edited)."""
    check_action(proposal, Action.EDIT, actor)
    if expected_version != proposal.version:
        raise StaleVersion(expected_version, proposal.version)
    after = _next(proposal, Action.EDIT)
    changed = [
        name
        for name, value in (
            ("payload", payload),
            ("justification", justification),
            ("documents", documents),
        )
        if value is not None
    ]
    updated = replace(
        proposal,
        status=after,
        payload=payload if payload is not None else proposal.payload,
        justification=justification if justification is not None else proposal.justification,
        documents=documents if documents is not None else proposal.documents,
        version=proposal.version + 1,
        updated_at=now,
    )
    transition = _entry(
        Action.EDIT, proposal.status, after, actor, now, details={"changed": changed}
    )
    return Outcome(updated, transition)


def submit(
    proposal: Proposal,
    *,
    evidence: Evidence,
    review_deadline: timedelta,
    comment: str | None,
    actor: Actor,
    now: datetime,
) -> Outcome:
    check_action(proposal, Action.SUBMIT, actor)
    if isinstance(proposal.payload, MeasuresPayload) and not proposal.payload.filled:
        raise InvalidProposal(
            "fill in at least one measure of the checklist before submitting",
            field="payload.checklist",
        )
    after = _next(proposal, Action.SUBMIT)
    due = now + review_deadline
    updated = replace(
        proposal,
        status=after,
        evidence=evidence,
        submitted_at=now,
        review_due_at=due,
        version=proposal.version + 1,
        updated_at=now,
        failure=None,
    )
    event = wire.ProposalSubmitted(
        proposal_id=proposal.id,
        region=proposal.region,
        type=proposal.type,
        evidence_status=evidence.status,
        review_due_at=due,
        submitted_at=now,
    )
    details = {"evidence_status": evidence.status.value}
    transition = _entry(
        Action.SUBMIT, proposal.status, after, actor, now, comment=comment, details=details
    )
    return Outcome(updated, transition, (event,))


def review(proposal: Proposal, *, comment: str | None, actor: Actor, now: datetime) -> Outcome:
    return _simple(proposal, Action.REVIEW, comment=comment, reason=None, actor=actor, now=now)


def reject(
    proposal: Proposal, *, reason: str, comment: str | None, actor: Actor, now: datetime
) -> Outcome:
    outcome = _simple(proposal, Action.REJECT, comment=comment, reason=reason, actor=actor, now=now)
    event = wire.ProposalRejected(
        proposal_id=proposal.id, region=proposal.region, type=proposal.type, rejected_at=now
    )
    return replace(outcome, events=(event,))


def return_proposal(
    proposal: Proposal, *, reason: str, comment: str | None, actor: Actor, now: datetime
) -> Outcome:
    outcome = _simple(proposal, Action.RETURN, comment=comment, reason=reason, actor=actor, now=now)
    event = wire.ProposalReturned(
        proposal_id=proposal.id, region=proposal.region, type=proposal.type, returned_at=now
    )
    return replace(outcome, events=(event,))


def withdraw(proposal: Proposal, *, comment: str | None, actor: Actor, now: datetime) -> Outcome:
    outcome = _simple(proposal, Action.WITHDRAW, comment=comment, reason=None, actor=actor, now=now)
    event = wire.ProposalWithdrawn(
        proposal_id=proposal.id, region=proposal.region, type=proposal.type, withdrawn_at=now
    )
    return replace(outcome, events=(event,))


def _simple(
    proposal: Proposal,
    action: Action,
    *,
    comment: str | None,
    reason: str | None,
    actor: Actor,
    now: datetime,
) -> Outcome:
    check_action(proposal, action, actor)
    after = _next(proposal, action)
    updated = replace(proposal, status=after, version=proposal.version + 1, updated_at=now)
    transition = _entry(action, proposal.status, after, actor, now, comment=comment, reason=reason)
    return Outcome(updated, transition)


def approve(
    proposal: Proposal, *, delta: int | None, comment: str | None, actor: Actor, now: datetime
) -> Outcome:
    """Approved, with the akimat's delta or an amended one; the effect is the approved one.
    A measures proposal has no effect, and ends here."""
    check_action(proposal, Action.APPROVE, actor)
    if delta is not None and not has_delta(proposal.payload):
        raise InvalidProposal(f"a {proposal.type} proposal has no delta to amend", field="delta")
    if delta == 0:
        raise InvalidProposal("the approved delta is a signed, non-zero number", field="delta")
    after = _next(proposal, Action.APPROVE)
    filed = _filed_delta(proposal.payload)
    approved = delta if delta is not None else filed
    effect = effect_of(proposal, approved)
    events: tuple[EventPayload, ...]
    if effect is None:
        events = (
            wire.MeasuresApproved(proposal_id=proposal.id, region=proposal.region, approved_at=now),
        )
    else:
        amended = filed if delta is not None and delta != filed else None
        events = (
            wire.ProposalApproved(
                proposal_id=proposal.id,
                region=proposal.region,
                effect=effect,
                approved_at=now,
                type=proposal.type,
                filed_delta=amended,
            ),
        )
    updated = replace(
        proposal,
        status=after,
        approved_delta=approved,
        effect=None if effect is None else effect.model_dump(mode="json"),
        approved_at=now,
        published_at=now,
        version=proposal.version + 1,
        updated_at=now,
    )
    details = {"filed_delta": filed, "approved_delta": approved} if filed is not None else None
    transition = _entry(
        Action.APPROVE, proposal.status, after, actor, now, comment=comment, details=details
    )
    return Outcome(updated, transition, events)


def _filed_delta(payload: Payload) -> int | None:
    if isinstance(payload, LabourQuotaPayload | RegionalQuotaPayload):
        return payload.delta
    return None


def effect_of(proposal: Proposal, delta: int | None) -> wire.ProposalEffect | None:
    """The effect the quota service applies for an approved proposal (None for measures)."""
    p, decision = proposal.payload, f"proposal {proposal.id}"
    # not the justification: free text an official wrote stays out of the events
    reason = f"{proposal.type.value.replace('_', ' ')} {decision} of region {proposal.region}"
    if isinstance(p, TerritoryPayload):
        if proposal.type is ProposalType.TERRITORY_ASSIGNMENT:
            return wire.DesignateTerritoryEffect(
                kato=p.kato,
                kinds=[p.kind.value],
                effective_from=p.effective_date,
                decision=decision,
            )
        return wire.ExcludeTerritoryEffect(
            kato=p.kato, kinds=[p.kind.value], effective_from=p.effective_date, decision=decision
        )
    if isinstance(p, LabourQuotaPayload):
        return wire.AdjustQuotaEffect(
            kind="foreign_labour",
            year=p.year,
            category=p.category.value,
            delta=delta,
            reason=reason,
        )
    if isinstance(p, RegionalQuotaPayload):
        h = p.horizon
        return wire.AdjustQuotaEffect(
            kind=p.kind.value,
            year=h.year_from,
            year_to=h.year_to if h.medium_term else None,
            delta=delta,
            reason=reason,
        )
    return None


# --- after approval: quota's answer, the worker ---------------------------------------------------


def applied(proposal: Proposal, *, now: datetime, details: Mapping[str, Any]) -> Outcome | None:
    """Quota applied the effect; None when the proposal no longer waits for an answer (a
    duplicate, or an answer after another)."""
    if proposal.status is not Status.APPROVED or proposal.effect is None:
        return None
    updated = replace(proposal, status=Status.APPLIED, version=proposal.version + 1, updated_at=now)
    event = wire.ProposalApplied(
        proposal_id=proposal.id, region=proposal.region, type=proposal.type, applied_at=now
    )
    transition = _entry(
        Action.APPLY, Status.APPROVED, Status.APPLIED, Actor(subject="quota"), now, details=details
    )
    return Outcome(updated, transition, (event,))


def application_failed(
    proposal: Proposal, *, reason: str, detail: str, now: datetime
) -> Outcome | None:
    """Quota refused the effect, with its reason; None when no answer is awaited."""
    if proposal.status is not Status.APPROVED or proposal.effect is None:
        return None
    after = Status.APPLICATION_FAILED
    updated = replace(
        proposal,
        status=after,
        failure=Failure(reason, detail),
        version=proposal.version + 1,
        updated_at=now,
    )
    event = wire.ProposalApplicationFailed(
        proposal_id=proposal.id,
        region=proposal.region,
        type=proposal.type,
        reason=reason,
        detail=detail,
        failed_at=now,
    )
    transition = _entry(
        Action.FAIL,
        Status.APPROVED,
        after,
        Actor(subject="quota"),
        now,
        reason=f"{reason}: {detail}",
    )
    return Outcome(updated, transition, (event,))


def republish(proposal: Proposal, *, now: datetime) -> Outcome:
    """The approval event again, for quota (which applies an effect once per proposal)."""
    assert proposal.effect is not None
    assert proposal.approved_at is not None
    event = wire.ProposalApproved(
        proposal_id=proposal.id,
        region=proposal.region,
        effect=_effect(proposal.effect),
        approved_at=proposal.approved_at,
        type=proposal.type,
        repeat=True,
    )
    updated = replace(proposal, published_at=now)
    transition = _entry(
        Action.REPUBLISH, proposal.status, proposal.status, Actor(subject="worker"), now
    )
    return Outcome(updated, transition, (event,))


def _effect(stored: Mapping[str, Any]) -> wire.ProposalEffect:
    kind = stored.get("type")
    if kind == "adjust-quota":
        return wire.AdjustQuotaEffect.model_validate(stored)
    if kind == "designate-territory":
        return wire.DesignateTerritoryEffect.model_validate(stored)
    return wire.ExcludeTerritoryEffect.model_validate(stored)


def freeze_evidence(proposal: Proposal, evidence: Evidence, *, now: datetime) -> Outcome | None:
    """The snapshot the worker got after a submission that found monitoring away; None when
    the proposal no longer waits for one."""
    if proposal.evidence is None or proposal.evidence.status is not EvidenceStatus.PENDING:
        return None
    updated = replace(proposal, evidence=evidence, updated_at=now)
    transition = _entry(
        Action.FREEZE_EVIDENCE, proposal.status, proposal.status, Actor(subject="worker"), now
    )
    return Outcome(updated, transition)


def alert_cleared(proposal: Proposal, *, cleared_at: datetime, now: datetime) -> Outcome | None:
    """Monitoring cleared the alert the measures proposal answers: noted, once."""
    if proposal.alert is None or proposal.alert.cleared_at is not None:
        return None
    updated = replace(
        proposal, alert=replace(proposal.alert, cleared_at=cleared_at), updated_at=now
    )
    transition = _entry(
        Action.ALERT_CLEARED,
        proposal.status,
        proposal.status,
        Actor(subject="monitoring"),
        now,
        details={"alert_id": str(proposal.alert.alert_id)},
    )
    return Outcome(updated, transition)
