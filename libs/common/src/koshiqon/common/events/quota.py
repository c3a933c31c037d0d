"""Wire contracts of `quota.v1` (kz.migration.quota.*.v1).

Subject (and Kafka key): the application id for the ledger's per-application events
(reserved, denied, consumed, released, expired), so the registration service sees one
application's outcome in order; the quota id for events about a quota itself.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from koshiqon.common.events.contracts import EventPayload, event

KATO = Field(pattern=r"^[0-9]{9}$", description="9-digit KATO code")


class QuotaKind(StrEnum):
    KANDAS = "kandas"
    MIGRANT = "migrant"
    FOREIGN_LABOUR = "foreign_labour"


class DenialReason(StrEnum):
    NO_QUOTA = "no_quota"
    NOT_DESIGNATED = "not_designated"
    EXHAUSTED = "exhausted"


class ReleaseReason(StrEnum):
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


@event("quota", "quota-reserved")
class QuotaReserved(EventPayload):
    application_id: UUID
    quota_id: UUID
    kind: QuotaKind
    region: str = KATO
    year: int
    persons: int = Field(ge=1)
    remaining: int = Field(ge=0, description="persons still available after this reservation")
    reserved_at: datetime


@event("quota", "quota-denied")
class QuotaDenied(EventPayload):
    application_id: UUID
    quota_id: UUID | None = None
    kind: QuotaKind
    region: str = KATO
    year: int
    persons: int = Field(ge=1)
    reason: DenialReason
    remaining: int | None = Field(default=None, ge=0, description="set when exhausted")
    denied_at: datetime


@event("quota", "quota-consumed")
class QuotaConsumed(EventPayload):
    application_id: UUID
    quota_id: UUID
    kind: QuotaKind
    region: str = KATO
    year: int
    persons: int = Field(ge=1)
    consumed_at: datetime


@event("quota", "quota-released")
class QuotaReleased(EventPayload):
    application_id: UUID
    quota_id: UUID
    kind: QuotaKind
    region: str = KATO
    year: int
    persons: int = Field(ge=1)
    reason: ReleaseReason
    released_at: datetime


@event("quota", "quota-expired")
class QuotaExpired(EventPayload):
    """A reservation not consumed by the end of its quota's period."""

    application_id: UUID
    quota_id: UUID
    kind: QuotaKind
    region: str = KATO
    year: int
    persons: int = Field(ge=1)
    period_end: date
    expired_at: datetime
