"""API shapes of the quota service (separate from the tables and the wire events)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from koshiqon.common.http.text import TextInput
from koshiqon.quota.domain.model import (
    Category,
    DenialReason,
    HistoryEntry,
    Kind,
    Outcome,
    Quota,
    QuotaStatus,
    ReleaseReason,
    Reservation,
    ReservationStatus,
    Territory,
    TerritoryKind,
    TerritoryStatus,
)
from koshiqon.quota.domain.orders import ImportedOrder

KATO_PATTERN = r"^[0-9]{9}$"
Year = Field(ge=2000, le=2100)


class QuotaIn(TextInput):
    kind: Kind
    region: str = Field(
        pattern=KATO_PATTERN, description="the region's own KATO code", examples=["590000000"]
    )
    year_from: int = Year
    year_to: int | None = Field(default=None, ge=2000, le=2100, description="medium term")
    category: Category | None = Field(default=None, description="foreign labour only")
    limit: int = Field(ge=1, le=10_000_000, description="persons, family members included")
    reference: str | None = Field(default=None, max_length=200, description="order number")


class QuotaOut(BaseModel):
    id: UUID
    kind: Kind
    region: str
    year_from: int
    year_to: int
    category: Category | None
    limit: int
    reserved: int
    consumed: int
    remaining: int
    utilization: float = Field(description="(reserved + consumed) / limit")
    status: QuotaStatus
    version: int
    created_at: datetime

    @classmethod
    def of(cls, q: Quota) -> Self:
        return cls(
            id=q.id,
            kind=q.kind,
            region=q.region,
            year_from=q.period.year_from,
            year_to=q.period.year_to,
            category=q.category,
            limit=q.limit,
            reserved=q.reserved,
            consumed=q.consumed,
            remaining=q.remaining,
            utilization=q.utilization,
            status=q.status,
            version=q.version,
            created_at=q.created_at,
        )


class AdjustmentIn(TextInput):
    """Exactly one of `delta` (signed) and `new_limit`."""

    delta: int | None = Field(default=None, ge=-10_000_000, le=10_000_000)
    new_limit: int | None = Field(default=None, ge=0, le=10_000_000)
    reason: str = Field(min_length=1, max_length=2000)
    reference: str = Field(min_length=1, max_length=200, description="proposal id or order no.")
    proposal_id: UUID | None = None


class HistoryOut(BaseModel):
    seq: int
    action: str
    previous_limit: int | None
    limit: int
    delta: int
    reason: str | None
    reference: str | None
    proposal_id: UUID | None
    actor: str | None
    recorded_at: datetime

    @classmethod
    def of(cls, h: HistoryEntry) -> Self:
        return cls(
            seq=h.seq,
            action=h.action,
            previous_limit=h.previous_limit,
            limit=h.limit,
            delta=h.delta,
            reason=h.reason,
            reference=h.reference,
            proposal_id=h.proposal_id,
            actor=h.actor,
            recorded_at=h.recorded_at,
        )


class TerritoryIn(TextInput):
    kato: str = Field(
        pattern=KATO_PATTERN,
        description="a region's or a district's KATO code",
        examples=["590000000"],
    )
    kind: TerritoryKind
    effective_from: date
    decision: str = Field(min_length=1, max_length=500, description="the decision it rests on")


class ExclusionIn(TextInput):
    effective_from: date
    decision: str = Field(min_length=1, max_length=500)


class TerritoryOut(BaseModel):
    """A designated territory as the API shows it: the domain object's own fields."""

    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kato: str
    region: str
    kind: TerritoryKind
    effective_from: date
    decision: str
    status: TerritoryStatus
    excluded_from: date | None
    exclusion_decision: str | None

    @classmethod
    def of(cls, t: Territory) -> Self:
        return cls.model_validate(t)


class ReservationIn(TextInput):
    application_id: UUID
    kind: Kind
    region: str = Field(
        pattern=KATO_PATTERN, description="target region or district", examples=["590000000"]
    )
    year: int = Year
    persons: int = Field(ge=1, le=1000, description="the applicant and family members")
    category: Category | None = Field(default=None, description="foreign labour only")


class ReservationOut(BaseModel):
    application_id: UUID
    outcome: Outcome = Field(description="the first outcome; a repeat returns it again")
    status: ReservationStatus
    quota_id: UUID | None
    kind: Kind
    region: str
    year: int
    persons: int
    denial_reason: DenialReason | None
    remaining: int | None = Field(description="set when denied as exhausted")
    release_reason: ReleaseReason | None
    requested_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: Reservation) -> Self:
        return cls(
            application_id=r.application_id,
            outcome=r.outcome,
            status=r.status,
            quota_id=r.quota_id,
            kind=r.kind,
            region=r.region,
            year=r.year,
            persons=r.persons,
            denial_reason=r.denial_reason,
            remaining=r.remaining_at_denial,
            release_reason=r.release_reason,
            requested_at=r.requested_at,
            updated_at=r.updated_at,
        )


class OrderOut(BaseModel):
    quotas: list[QuotaOut]
    territories: list[TerritoryOut]
    totals: dict[str, int] = Field(description="persons by kind")

    @classmethod
    def of(cls, imported: ImportedOrder) -> Self:
        totals: dict[str, int] = {}
        for q in imported.quotas:
            totals[q.kind] = totals.get(q.kind, 0) + q.limit
        return cls(
            quotas=[QuotaOut.of(q) for q in imported.quotas],
            territories=[TerritoryOut.of(t) for t in imported.territories],
            totals=totals,
        )
