"""API shapes of the proposals service (separate from the tables and the wire events). The
syntax is checked here (422 naming the field); a payload's fit to its proposal type, the
region and the years are the domain's (domain/payloads.py), which names the field too."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from koshiqon.common.events.proposals import EvidenceStatus, ProposalType
from koshiqon.common.http.text import TextInput
from koshiqon.proposals.domain.model import (
    Action,
    Document,
    Proposal,
    Status,
    Transition,
    allowed_actions,
)
from koshiqon.proposals.domain.payloads import payload_json
from koshiqon.proposals.domain.rules import RegionalRules, RulesStatus

KATO_PATTERN = r"^[0-9]{9}$"
Comment = Field(default=None, max_length=2000)
Reason = Field(min_length=1, max_length=2000)

PAYLOAD_DOC = (
    "Depends on `type`. territory_assignment, territory_exclusion: "
    '{"kind": "kandas"|"migrant", "kato": region or district code, "effective_date": date}. '
    'foreign_labour_quota_change: {"category": "1".."4"|"seasonal", "delta": signed non-zero, '
    '"year": Y}. regional_quota_change: {"kind", "delta", "horizon": {"year": Y} (the upcoming '
    'year) or {"year_from": A, "year_to": B} (2 to 5 years)}. measures: {"checklist": '
    '[{"measure": "attract_qualified_labour"|"social_adaptation"|"vocational_training", '
    '"plan": text, "done": bool}]}.'
)


class _In(TextInput):
    model_config = ConfigDict(extra="forbid")


class DocumentIn(_In):
    number: str = Field(min_length=1, max_length=100)
    date: date
    title: str = Field(min_length=1, max_length=500)

    def value(self) -> Document:
        return Document(self.number, self.date, self.title)


class ProposalIn(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "regional_quota_change",
                    "region": "550000000",
                    "justification": "More vacancies in agriculture than job seekers",
                    "documents": [],
                    "payload": {"kind": "kandas", "delta": 50, "horizon": {"year": 2027}},
                }
            ]
        }
    )

    type: ProposalType
    region: str = Field(
        pattern=KATO_PATTERN, description="the region's own KATO code", examples=["550000000"]
    )
    justification: str = Field(min_length=1, max_length=20_000)
    documents: list[DocumentIn] = Field(default_factory=list, max_length=50)
    payload: dict[str, Any] = Field(
        description=PAYLOAD_DOC,
        examples=[{"kind": "kandas", "delta": 50, "horizon": {"year": 2027}}],
    )


class ProposalPatch(_In):
    """Any of the fields; those absent stay as they are."""

    justification: str | None = Field(default=None, min_length=1, max_length=20_000)
    documents: list[DocumentIn] | None = Field(default=None, max_length=50)
    payload: dict[str, Any] | None = Field(default=None, description=PAYLOAD_DOC)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.justification is None and self.documents is None and self.payload is None:
            raise ValueError("give at least one of justification, documents, payload")
        return self


class CommentIn(_In):
    comment: str | None = Comment


class ReasonIn(_In):
    reason: str = Reason
    comment: str | None = Comment


class ApproveIn(_In):
    comment: str | None = Comment
    delta: int | None = Field(
        default=None,
        ge=-1_000_000,
        le=1_000_000,
        description="an amended delta for a quota change (the effect applied is this one)",
    )


class DocumentOut(BaseModel):
    number: str
    date: date
    title: str


class EvidenceOut(BaseModel):
    status: EvidenceStatus
    retrieved_at: datetime | None
    indicators: dict[str, Any] | None = Field(description="monitoring's answer, as it was")


class AlertOut(BaseModel):
    alert_id: UUID
    period: str
    period_from: date
    period_to: date
    figures: dict[str, Any]
    raised_at: datetime
    cleared_at: datetime | None


class FailureOut(BaseModel):
    reason: str
    detail: str


class TransitionOut(BaseModel):
    action: Action
    from_status: Status | None
    to_status: Status
    actor: str
    agency: str | None
    at: datetime
    comment: str | None
    reason: str | None
    details: dict[str, Any] | None

    @classmethod
    def of(cls, t: Transition) -> Self:
        return cls(
            action=t.action,
            from_status=t.from_status,
            to_status=t.to_status,
            actor=t.actor,
            agency=t.agency,
            at=t.at,
            comment=t.comment,
            reason=t.reason,
            details=None if t.details is None else dict(t.details),
        )


class ProposalOut(BaseModel):
    id: UUID
    region: str
    type: ProposalType
    status: Status
    version: int
    allowed_actions: list[str]
    justification: str
    documents: list[DocumentOut]
    payload: dict[str, Any]
    evidence: EvidenceOut | None
    submitted_at: datetime | None
    review_due_at: datetime | None
    overdue: bool
    approved_delta: int | None
    effect: dict[str, Any] | None = Field(description="what quota is asked to apply")
    approved_at: datetime | None
    stuck: bool = Field(description="approved, and no answer from quota in time")
    failure: FailureOut | None
    alert: AlertOut | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Proposal, *, now: datetime, stuck_after: timedelta) -> Self:
        e, a = p.evidence, p.alert
        return cls(
            id=p.id,
            region=p.region,
            type=p.type,
            status=p.status,
            version=p.version,
            allowed_actions=allowed_actions(p.status),
            justification=p.justification,
            documents=[
                DocumentOut(number=d.number, date=d.date, title=d.title) for d in p.documents
            ],
            payload=payload_json(p.payload),
            evidence=None
            if e is None
            else EvidenceOut(
                status=e.status,
                retrieved_at=e.retrieved_at,
                indicators=None if e.snapshot is None else dict(e.snapshot),
            ),
            submitted_at=p.submitted_at,
            review_due_at=p.review_due_at,
            overdue=p.overdue(now),
            approved_delta=p.approved_delta,
            effect=_dict(p.effect),
            approved_at=p.approved_at,
            stuck=p.stuck(now, after=stuck_after),
            failure=None
            if p.failure is None
            else FailureOut(reason=p.failure.reason, detail=p.failure.detail),
            alert=None
            if a is None
            else AlertOut(
                alert_id=a.alert_id,
                period=a.period,
                period_from=a.period_from,
                period_to=a.period_to,
                figures=dict(a.figures),
                raised_at=a.raised_at,
                cleared_at=a.cleared_at,
            ),
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


def _dict(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


class ProposalDetail(ProposalOut):
    history: list[TransitionOut] = Field(description="every transition, oldest first")


class RulesIn(_In):
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=500_000, description="Markdown")


class RulesApprovalIn(_In):
    decision_number: str = Field(min_length=1, max_length=100, description="the maslikhat's")
    decision_date: date


class RulesOut(BaseModel):
    id: UUID
    region: str
    version: int
    title: str
    text: str
    status: RulesStatus
    decision_number: str | None
    decision_date: date | None
    approved_at: datetime | None
    superseded_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, r: RegionalRules) -> Self:
        return cls(
            id=r.id,
            region=r.region,
            version=r.version,
            title=r.title,
            text=r.text,
            status=r.status,
            decision_number=r.decision_number,
            decision_date=r.decision_date,
            approved_at=r.approved_at,
            superseded_at=r.superseded_at,
            created_at=r.created_at,
        )


class RulesList(BaseModel):
    items: list[RulesOut]
    in_force: UUID | None = Field(description="the approved version, if any")


class RulesDiffOut(BaseModel):
    rules_id: UUID
    against: UUID
    from_version: int
    to_version: int
    diff: str = Field(description="unified diff from `against` to this version")
