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
    repeat: bool = Field(
        default=False,
        description="published again: the first outcome of a repeated request, unchanged; no new "
        "fact, and a consumer that counts skips it",
    )


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
    repeat: bool = Field(
        default=False,
        description="published again: the first outcome of a repeated request, unchanged; no new "
        "fact, and a consumer that counts skips it",
    )


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


class UnheldStatus(StrEnum):
    """A ledger entry that holds no reservation: what a late completion finds."""

    RELEASED = "released"
    EXPIRED = "expired"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


class ConsumptionRefusal(StrEnum):
    """Why the reservation was no longer held: its release or denial reason, or the end of
    its quota's period."""

    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    NO_QUOTA = "no_quota"
    NOT_DESIGNATED = "not_designated"
    EXHAUSTED = "exhausted"
    PERIOD_ENDED = "period_ended"


@event("quota", "quota-consumption-refused")
class QuotaConsumptionRefused(EventPayload):
    """A completed resettlement whose reservation was no longer held (it had expired or
    been released, or was never granted): nothing is consumed and the quota's counters stay
    as they are. Each such completion is published once, for reconciliation (architecture
    section 4.4)."""

    application_id: UUID
    quota_id: UUID | None = None
    kind: QuotaKind
    region: str = KATO
    year: int
    persons: int = Field(ge=1)
    status: UnheldStatus = Field(description="the reservation's status when the completion came")
    reason: ConsumptionRefusal
    refused_at: datetime


# --- the quotas themselves and the territories (subject: the quota or territory id) -------


class LabourCategory(StrEnum):
    """Foreign labour permit categories (Decree No. 802): 1 heads and deputies, 2 heads of
    structural units, 3 specialists, 4 skilled workers; seasonal agricultural workers."""

    HEADS = "1"
    UNIT_HEADS = "2"
    SPECIALISTS = "3"
    SKILLED = "4"
    SEASONAL = "seasonal"


class ResettlementKind(StrEnum):
    """What a territory is designated for (§6): resettlement of kandases or of migrants."""

    KANDAS = "kandas"
    MIGRANT = "migrant"


class Threshold(StrEnum):
    NINETY = "90"
    HUNDRED = "100"


@event("quota", "quota-established")
class QuotaEstablished(EventPayload):
    quota_id: UUID
    kind: QuotaKind
    region: str = KATO
    year_from: int
    year_to: int = Field(description="equal to year_from for a one-year quota")
    category: LabourCategory | None = None
    limit: int = Field(ge=1, description="persons, family members included")
    reference: str | None = Field(default=None, description="order number or proposal id")
    established_at: datetime
    closed: bool = Field(
        default=False,
        description="recorded as history: its period had already ended (in Kazakhstan's"
        " time) when it was established, so it is closed and takes no reservation",
    )


@event("quota", "quota-adjusted")
class QuotaAdjusted(EventPayload):
    quota_id: UUID
    kind: QuotaKind
    region: str = KATO
    year_from: int
    year_to: int
    category: LabourCategory | None = None
    previous_limit: int = Field(ge=0)
    limit: int = Field(ge=0)
    delta: int
    reason: str
    reference: str = Field(description="a proposal id or an order number")
    proposal_id: UUID | None = None
    adjusted_at: datetime


@event("quota", "quota-threshold-reached")
class QuotaThresholdReached(EventPayload):
    """Utilization (reserved + consumed) / limit reached 90 % or 100 %; once each per quota."""

    quota_id: UUID
    kind: QuotaKind
    region: str = KATO
    year_from: int
    year_to: int
    category: LabourCategory | None = None
    threshold: Threshold
    limit: int = Field(ge=0)
    reserved: int = Field(ge=0)
    consumed: int = Field(ge=0)
    reached_at: datetime


@event("quota", "territory-designated")
class TerritoryDesignated(EventPayload):
    territory_id: UUID
    kato: str = KATO
    region: str = KATO
    kind: ResettlementKind
    effective_from: date
    decision: str = Field(description="the decision the designation rests on")
    proposal_id: UUID | None = None
    designated_at: datetime


@event("quota", "territory-excluded")
class TerritoryExcluded(EventPayload):
    """The designation ends on `effective_from`: reservations made before stay valid."""

    territory_id: UUID
    kato: str = KATO
    region: str = KATO
    kind: ResettlementKind
    effective_from: date
    decision: str
    proposal_id: UUID | None = None
    excluded_at: datetime


class RefusalReason(StrEnum):
    NO_QUOTA = "no_quota"
    BELOW_USED = "below_used"
    NOT_DESIGNATED = "not_designated"
    ALREADY_DESIGNATED = "already_designated"
    INVALID = "invalid"


@event("quota", "proposal-effect-refused")
class ProposalEffectRefused(EventPayload):
    """An approved proposal whose effect the quota service cannot apply (subject: the
    proposal id); the proposal becomes application_failed."""

    proposal_id: UUID
    region: str = KATO
    effect: str = Field(description="the effect's type, e.g. adjust-quota")
    reason: RefusalReason
    detail: str
    refused_at: datetime
