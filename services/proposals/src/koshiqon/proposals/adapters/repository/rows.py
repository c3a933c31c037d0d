"""What the proposals repositories and queries share: rows to domain objects and back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row

from koshiqon.common.events.proposals import EvidenceStatus, ProposalType
from koshiqon.proposals.domain.model import (
    Action,
    Alert,
    Document,
    Evidence,
    Failure,
    Proposal,
    Status,
    Transition,
)
from koshiqon.proposals.domain.payloads import load_payload, payload_json
from koshiqon.proposals.domain.rules import RegionalRules, RulesStatus


def proposal_of(r: Row[Any]) -> Proposal:
    type_ = ProposalType(r.type)
    return Proposal(
        id=r.id,
        region=r.region,
        type=type_,
        status=Status(r.status),
        payload=load_payload(type_, r.payload),
        justification=r.justification,
        documents=tuple(
            Document(d["number"], date.fromisoformat(d["date"]), d["title"]) for d in r.documents
        ),
        version=r.version,
        created_at=r.created_at,
        updated_at=r.updated_at,
        evidence=None
        if r.evidence_status is None
        else Evidence(EvidenceStatus(r.evidence_status), r.evidence, r.evidence_retrieved_at),
        submitted_at=r.submitted_at,
        review_due_at=r.review_due_at,
        approved_delta=r.approved_delta,
        effect=r.effect,
        approved_at=r.approved_at,
        published_at=r.published_at,
        failure=None if r.failure_reason is None else Failure(r.failure_reason, r.failure_detail),
        alert=None if r.alert is None else _alert(r.alert_id, r.alert),
    )


def _alert(alert_id: UUID, a: dict[str, Any]) -> Alert:
    cleared = a.get("cleared_at")
    return Alert(
        alert_id=alert_id,
        period=a["period"],
        period_from=date.fromisoformat(a["period_from"]),
        period_to=date.fromisoformat(a["period_to"]),
        figures=a["figures"],
        raised_at=datetime.fromisoformat(a["raised_at"]),
        cleared_at=None if cleared is None else datetime.fromisoformat(cleared),
    )


def proposal_values(p: Proposal) -> dict[str, Any]:
    """The proposal's columns."""
    evidence, alert = p.evidence, p.alert
    return {
        "id": p.id,
        "region": p.region,
        "type": p.type.value,
        "status": p.status.value,
        "payload": payload_json(p.payload),
        "justification": p.justification,
        "documents": [
            {"number": d.number, "date": d.date.isoformat(), "title": d.title} for d in p.documents
        ],
        "version": p.version,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "evidence_status": None if evidence is None else evidence.status.value,
        "evidence": None if evidence is None else evidence.snapshot,
        "evidence_retrieved_at": None if evidence is None else evidence.retrieved_at,
        "submitted_at": p.submitted_at,
        "review_due_at": p.review_due_at,
        "approved_delta": p.approved_delta,
        "effect": p.effect,
        "approved_at": p.approved_at,
        "published_at": p.published_at,
        "failure_reason": None if p.failure is None else p.failure.reason,
        "failure_detail": None if p.failure is None else p.failure.detail,
        "alert_id": None if alert is None else alert.alert_id,
        "alert": None if alert is None else _alert_json(alert),
    }


def _alert_json(a: Alert) -> dict[str, Any]:
    return {
        "period": a.period,
        "period_from": a.period_from.isoformat(),
        "period_to": a.period_to.isoformat(),
        "figures": dict(a.figures),
        "raised_at": a.raised_at.isoformat(),
        "cleared_at": None if a.cleared_at is None else a.cleared_at.isoformat(),
    }


def transition_of(r: Row[Any]) -> Transition:
    return Transition(
        action=Action(r.action),
        from_status=None if r.from_status is None else Status(r.from_status),
        to_status=Status(r.to_status),
        actor=r.actor,
        agency=r.agency,
        at=r.at,
        comment=r.comment,
        reason=r.reason,
        details=r.details,
    )


def transition_values(proposal_id: UUID, t: Transition) -> dict[str, Any]:
    return {
        "proposal_id": proposal_id,
        "action": t.action.value,
        "from_status": None if t.from_status is None else t.from_status.value,
        "to_status": t.to_status.value,
        "actor": t.actor,
        "agency": t.agency,
        "at": t.at,
        "comment": t.comment,
        "reason": t.reason,
        "details": None if t.details is None else dict(t.details),
    }


def rules_of(r: Row[Any]) -> RegionalRules:
    return RegionalRules(
        id=r.id,
        region=r.region,
        version=r.version,
        title=r.title,
        text=r.text,
        status=RulesStatus(r.status),
        created_by=r.created_by,
        created_at=r.created_at,
        decision_number=r.decision_number,
        decision_date=r.decision_date,
        approved_at=r.approved_at,
        superseded_at=r.superseded_at,
    )


def rules_values(r: RegionalRules) -> dict[str, Any]:
    return {
        "id": r.id,
        "region": r.region,
        "version": r.version,
        "title": r.title,
        "text": r.text,
        "status": r.status.value,
        "created_by": r.created_by,
        "created_at": r.created_at,
        "decision_number": r.decision_number,
        "decision_date": r.decision_date,
        "approved_at": r.approved_at,
        "superseded_at": r.superseded_at,
    }
