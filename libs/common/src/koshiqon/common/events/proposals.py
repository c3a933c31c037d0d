"""Wire contracts of `proposals.v1` (kz.migration.proposals.*.v1).

Subject (and Kafka key): the proposal id.

`proposal-approved` carries the effect the authorized migration body approved (§6), in a
form the quota service applies as is. `effect` is a union told apart by its `type`:

- `adjust-quota`: increase or reduce a regional kandas / migrant quota or a foreign labour
  quota. The quota is the active one of `kind` in the proposal's `region` for the period
  `year`..`year_to` (`year_to` absent: one year) and, for foreign labour, `category`. Give
  either `delta` (signed, persons) or `new_limit`, not both.
- `designate-territory`: designate the territory `kato` (the region itself or one of its
  districts) for resettlement of `kinds` from `effective_from`, on `decision`.
- `exclude-territory`: end the designation of `kato` for `kinds` (absent: every kind) from
  `effective_from`, on `decision`.

The quota service answers with `quota-adjusted`, `territory-designated`,
`territory-excluded`, or `proposal-effect-refused` with the reason (all on `quota.v1`).

The other events follow a proposal through its workflow (submitted, returned, rejected,
withdrawn, applied, application failed), the measures proposals opened on an outflow alert
(§8) and their approval, and the regional rules a maslikhat approved (§2; subject: the
rules' id). None carries a person's name, an official's identity or free text a person
wrote (comments and reasons stay in the proposals API): only ids, codes, dates and counts.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from koshiqon.common.events.contracts import EventPayload, event
from koshiqon.common.events.quota import LabourCategory, QuotaKind, ResettlementKind

KATO = Field(pattern=r"^[0-9]{9}$", description="9-digit KATO code")


class ProposalType(StrEnum):
    """The proposals of §6, and the measures of §8."""

    TERRITORY_ASSIGNMENT = "territory_assignment"
    TERRITORY_EXCLUSION = "territory_exclusion"
    FOREIGN_LABOUR_QUOTA_CHANGE = "foreign_labour_quota_change"
    REGIONAL_QUOTA_CHANGE = "regional_quota_change"
    MEASURES = "measures"


class _Effect(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AdjustQuotaEffect(_Effect):
    type: Literal["adjust-quota"] = "adjust-quota"
    kind: QuotaKind
    year: int = Field(ge=2000, le=2100)
    year_to: int | None = Field(default=None, ge=2000, le=2100, description="medium term")
    category: LabourCategory | None = Field(default=None, description="foreign labour only")
    delta: int | None = Field(default=None, description="signed change, persons")
    new_limit: int | None = Field(default=None, ge=0)
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _delta_or_new_limit(self) -> Self:
        if (self.delta is None) == (self.new_limit is None):
            raise ValueError("give exactly one of delta and new_limit")
        return self


class DesignateTerritoryEffect(_Effect):
    type: Literal["designate-territory"] = "designate-territory"
    kato: str = KATO
    kinds: list[ResettlementKind] = Field(min_length=1)
    effective_from: date
    decision: str = Field(min_length=1, max_length=500)


class ExcludeTerritoryEffect(_Effect):
    type: Literal["exclude-territory"] = "exclude-territory"
    kato: str = KATO
    kinds: list[ResettlementKind] | None = Field(default=None, description="absent: all")
    effective_from: date
    decision: str = Field(min_length=1, max_length=500)


ProposalEffect = Annotated[
    AdjustQuotaEffect | DesignateTerritoryEffect | ExcludeTerritoryEffect,
    Field(discriminator="type"),
]


@event("proposals", "proposal-approved")
class ProposalApproved(EventPayload):
    """The authorized migration body approved a region's proposal (§6)."""

    proposal_id: UUID
    region: str = KATO
    effect: ProposalEffect
    approved_at: datetime
    repeat: bool = Field(
        default=False,
        description="sent again: the worker repeats a stuck approval; no new fact, and a consumer "
        "that counts skips it",
    )
    type: ProposalType | None = Field(default=None, description="the proposal's type")
    filed_delta: int | None = Field(
        default=None,
        description="the delta the akimat filed, when the approval amended it (the effect's "
        "delta is the approved one)",
    )


class _ProposalEvent(EventPayload):
    proposal_id: UUID
    region: str = KATO
    type: ProposalType


class EvidenceStatus(StrEnum):
    FROZEN = "frozen"  # monitoring's indicators, retrieved at submission, are in the proposal
    PENDING = "pending"  # monitoring was unavailable: the worker retries


@event("proposals", "proposal-submitted")
class ProposalSubmitted(_ProposalEvent):
    """An akimat submitted its proposal to the authorized migration body (§6)."""

    evidence_status: EvidenceStatus
    review_due_at: datetime = Field(description="the review deadline")
    submitted_at: datetime


@event("proposals", "proposal-returned")
class ProposalReturned(_ProposalEvent):
    """Returned to the akimat for changes (the reason is in the proposals API)."""

    returned_at: datetime


@event("proposals", "proposal-rejected")
class ProposalRejected(_ProposalEvent):
    rejected_at: datetime


@event("proposals", "proposal-withdrawn")
class ProposalWithdrawn(_ProposalEvent):
    withdrawn_at: datetime


@event("proposals", "proposal-applied")
class ProposalApplied(_ProposalEvent):
    """The quota service applied the approved effect."""

    applied_at: datetime


@event("proposals", "proposal-application-failed")
class ProposalApplicationFailed(_ProposalEvent):
    """The quota service refused the approved effect; `reason` is its refusal reason."""

    reason: str = Field(description="the quota service's reason, e.g. no_quota, below_used")
    detail: str
    failed_at: datetime


@event("proposals", "measures-proposal-opened")
class MeasuresProposalOpened(EventPayload):
    """A draft measures proposal (§8) opened for a region's akimat on an outflow alert."""

    proposal_id: UUID
    region: str = KATO
    alert_id: UUID
    opened_at: datetime


@event("proposals", "measures-approved")
class MeasuresApproved(EventPayload):
    """The authorized migration body approved a measures proposal (no quota effect)."""

    proposal_id: UUID
    region: str = KATO
    approved_at: datetime


@event("proposals", "regional-rules-approved")
class RegionalRulesApproved(EventPayload):
    """A region's rules for regulating migration processes, approved by its maslikhat (§2);
    the version in force until a later one is approved (subject: the rules' id)."""

    rules_id: UUID
    region: str = KATO
    version: int = Field(ge=1)
    decision_number: str = Field(description="the maslikhat's decision")
    decision_date: date
    supersedes: UUID | None = Field(default=None, description="the version it replaces")
    approved_at: datetime
