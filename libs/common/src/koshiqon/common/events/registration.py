"""Wire contracts of `registration.v1` (kz.migration.registration.*.v1).

Persons appear by id only: no names, no IIN, no document numbers in any event. A payload
carries what the quota and monitoring services need — region KATO codes, dates, legal status,
category, year, number of persons — and no more.

Subject (and Kafka key): the resettlement application id for resettlement-* events, so one
application's events stay ordered.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from koshiqon.common.events.contracts import EventPayload, event

KATO = Field(pattern=r"^[0-9]{9}$", description="9-digit KATO code")


class ResettlementCategory(StrEnum):
    """§4: a kandas, or an internal migrant resettling into a designated region."""

    KANDAS = "kandas"
    MIGRANT = "migrant"


@event("registration", "resettlement-requested")
class ResettlementRequested(EventPayload):
    """An application for resettlement with state support under a regional quota (§7)."""

    application_id: UUID
    applicant_id: UUID
    category: ResettlementCategory
    target_region: str = KATO
    target_year: int = Field(ge=2000, le=2100)
    persons: int = Field(ge=1, description="the applicant and every family member")
    requested_at: datetime


@event("registration", "resettlement-completed")
class ResettlementCompleted(EventPayload):
    """The applicant registered permanently in the target region: the quota is consumed."""

    application_id: UUID
    applicant_id: UUID
    category: ResettlementCategory
    target_region: str = KATO
    target_year: int = Field(ge=2000, le=2100)
    persons: int = Field(ge=1)
    settlement: str = KATO
    completed_on: date


@event("registration", "resettlement-withdrawn")
class ResettlementWithdrawn(EventPayload):
    """The applicant withdrew an approved or pending application: its reservation is freed."""

    application_id: UUID
    applicant_id: UUID
    category: ResettlementCategory
    target_region: str = KATO
    target_year: int = Field(ge=2000, le=2100)
    persons: int = Field(ge=1)
    withdrawn_at: datetime
