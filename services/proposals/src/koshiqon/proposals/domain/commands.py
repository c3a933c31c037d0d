"""The proposals service's use cases, one frozen dataclass each; every command carries the
`Actor` who asks (`koshiqon.common.messagebus.Command`), `R` is what its handler returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from koshiqon.common.events.proposals import ProposalType
from koshiqon.common.messagebus import Actor, Command
from koshiqon.proposals.domain.model import Document, Proposal
from koshiqon.proposals.domain.rules import RegionalRules

WORKER = Actor(subject="proposals-worker")


@dataclass(frozen=True, kw_only=True)
class FileProposal(Command[Proposal]):
    region: str
    type: ProposalType
    payload: Mapping[str, Any]
    justification: str
    documents: tuple[Document, ...]


@dataclass(frozen=True, kw_only=True)
class EditProposal(Command[Proposal]):
    proposal_id: UUID
    expected_version: int | None
    payload: Mapping[str, Any] | None = None
    justification: str | None = None
    documents: tuple[Document, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class SubmitProposal(Command[Proposal]):
    proposal_id: UUID
    comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReviewProposal(Command[Proposal]):
    proposal_id: UUID
    comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApproveProposal(Command[Proposal]):
    proposal_id: UUID
    delta: int | None = None
    comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class RejectProposal(Command[Proposal]):
    proposal_id: UUID
    reason: str
    comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReturnProposal(Command[Proposal]):
    proposal_id: UUID
    reason: str
    comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class WithdrawProposal(Command[Proposal]):
    proposal_id: UUID
    comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordEffectApplied(Command[bool]):
    """Quota applied a proposal's effect (quota-adjusted, territory-designated, -excluded)."""

    proposal_id: UUID
    details: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class RecordEffectRefused(Command[bool]):
    proposal_id: UUID
    reason: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class RetryEvidence(Command[int]):
    """Fetch the evidence of submitted proposals still waiting for it; how many got it."""

    limit: int = 50


@dataclass(frozen=True, kw_only=True)
class RepublishStuck(Command[int]):
    """Send again the approval of proposals quota has not answered; how many."""

    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class OpenMeasures(Command[Proposal | None]):
    """A draft measures proposal on an outflow alert (§8); None when the alert has one."""

    alert_id: UUID
    region: str
    period: str
    period_from: date
    period_to: date
    figures: Mapping[str, Any]
    raised_at: datetime


@dataclass(frozen=True, kw_only=True)
class NoteAlertCleared(Command[bool]):
    alert_id: UUID
    cleared_at: datetime


@dataclass(frozen=True, kw_only=True)
class DraftRules(Command[RegionalRules]):
    region: str
    title: str
    text: str


@dataclass(frozen=True, kw_only=True)
class ApproveRules(Command[RegionalRules]):
    region: str
    rules_id: UUID
    decision_number: str
    decision_date: date
