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
    repeat: bool = Field(
        default=False,
        description="asked again: registration repeats a request that quota has not answered; "
        "no new fact, and a consumer that counts skips it",
    )


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


# --- persons and their residence registrations (§9, §10) ---------------------------------
#
# Subject (and Kafka key) of these events: the person id, so one person's registrations,
# moves and departures stay ordered. No names, IIN, document numbers, birth date or
# ethnicity: monitoring takes the ethnic composition from the statistical inputs (§5), and
# a person id next to an ethnicity would be special-category data about that person.

COUNTRY = Field(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3 country code")


class LegalStatus(StrEnum):
    CITIZEN = "citizen"
    FOREIGNER = "foreigner"
    STATELESS = "stateless"


class ResidenceKind(StrEnum):
    PERMANENT = "permanent"
    TEMPORARY = "temporary"


class StayPurpose(StrEnum):
    """Why a temporary stay: `work` is labour migration."""

    WORK = "work"
    STUDY = "study"
    FAMILY = "family"
    OTHER = "other"


class EndReason(StrEnum):
    REPLACED = "replaced"  # a new permanent registration took its place
    DEREGISTERED = "deregistered"  # ended on request
    EMIGRATED = "emigrated"  # departure abroad
    EXPIRED = "expired"  # a temporary stay past its valid_until


@event("registration", "person-registered")
class PersonRegistered(EventPayload):
    """A person entered the register (not yet a residence: see residence-registered)."""

    person_id: UUID
    legal_status: LegalStatus
    citizenship: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    kandas: bool
    registered_at: datetime


@event("registration", "residence-registered")
class ResidenceRegistered(EventPayload):
    residence_id: UUID
    person_id: UUID
    legal_status: LegalStatus
    kind: ResidenceKind
    settlement: str = KATO
    region: str = KATO
    valid_from: date
    valid_until: date | None = None
    purpose: StayPurpose | None = None
    labour_migration: bool = Field(description="a temporary stay for work")
    kandas: bool | None = Field(
        default=None,
        description="whether the person has kandas status (monitoring counts by it); absent "
        "from producers that do not say",
    )


@event("registration", "residence-ended")
class ResidenceEnded(EventPayload):
    residence_id: UUID
    person_id: UUID
    legal_status: LegalStatus
    kind: ResidenceKind
    settlement: str = KATO
    region: str = KATO
    ended_on: date = Field(description="the last day of the registration")
    reason: EndReason
    kandas: bool | None = Field(
        default=None,
        description="whether the person has kandas status (monitoring counts by it); absent "
        "from producers that do not say",
    )


@event("registration", "person-moved")
class PersonMoved(EventPayload):
    """An internal move: a new permanent registration in another region."""

    person_id: UUID
    legal_status: LegalStatus
    from_region: str = KATO
    to_region: str = KATO
    from_settlement: str = KATO
    to_settlement: str = KATO
    moved_on: date
    kandas: bool | None = Field(
        default=None,
        description="whether the person has kandas status (monitoring counts by it); absent "
        "from producers that do not say",
    )


@event("registration", "person-immigrated")
class PersonImmigrated(EventPayload):
    """A first registration on arrival from abroad."""

    person_id: UUID
    legal_status: LegalStatus
    country_of_origin: str = COUNTRY
    kind: ResidenceKind
    region: str = KATO
    settlement: str = KATO
    arrived_on: date
    kandas: bool | None = Field(
        default=None,
        description="whether the person has kandas status (monitoring counts by it); absent "
        "from producers that do not say",
    )


@event("registration", "person-emigrated")
class PersonEmigrated(EventPayload):
    """Deregistration on departure abroad; every active registration ended that day."""

    person_id: UUID
    legal_status: LegalStatus
    destination_country: str = COUNTRY
    region: str = Field(pattern=r"^[0-9]{9}$", description="the region left (KATO)")
    departed_on: date
    kandas: bool | None = Field(
        default=None,
        description="whether the person has kandas status (monitoring counts by it); absent "
        "from producers that do not say",
    )


# --- the resettlement saga's outcomes --------------------------------------------------------


@event("registration", "resettlement-approved")
class ResettlementApproved(EventPayload):
    """The quota service reserved the application's persons: state support is granted."""

    application_id: UUID
    applicant_id: UUID
    category: ResettlementCategory
    target_region: str = KATO
    target_year: int = Field(ge=2000, le=2100)
    persons: int = Field(ge=1)
    quota_id: UUID
    approved_at: datetime


@event("registration", "resettlement-rejected")
class ResettlementRejected(EventPayload):
    """No quota for the application: no state support (the move itself stays free, §3)."""

    application_id: UUID
    applicant_id: UUID
    category: ResettlementCategory
    target_region: str = KATO
    target_year: int = Field(ge=2000, le=2100)
    persons: int = Field(ge=1)
    reason: str = Field(description="the quota service's reason: no_quota, not_designated, ...")
    rejected_at: datetime
