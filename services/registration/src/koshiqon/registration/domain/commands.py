"""What callers ask of the registration service: one command (or query) per use case.

Every command carries the `Actor` who asks: region limits and the audit of reads need it.
Reads of personal data are commands too, because each one writes an audit row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from koshiqon.common.events.registration import (
    LegalStatus,
    ResettlementCategory,
    ResidenceKind,
    StayPurpose,
)
from koshiqon.common.kz import Sex
from koshiqon.registration.domain.model import Actor, KandasStatus, TravelDocument
from koshiqon.registration.domain.resettlement import ApplicationStatus


@dataclass(frozen=True)
class Command:
    actor: Actor


@dataclass(frozen=True)
class Read(Command):
    """A read of personal data: `route` (the path template) goes into the audit row."""

    route: str


@dataclass(frozen=True)
class RegisterPerson(Command):
    legal_status: LegalStatus
    iin: str | None
    travel_document: TravelDocument | None
    surname_latin: str
    given_names_latin: str
    surname_cyrillic: str
    given_names_cyrillic: str
    birth_date: date
    sex: Sex
    citizenship: str | None
    ethnicity: str | None
    kandas: KandasStatus | None


@dataclass(frozen=True)
class GetPerson(Read):
    person_id: uuid.UUID


@dataclass(frozen=True)
class FindPersons(Read):
    iin: str | None = None
    travel_document: TravelDocument | None = None


@dataclass(frozen=True)
class RegisterResidence(Command):
    person_id: uuid.UUID
    kind: ResidenceKind
    kato: str
    street: str
    building: str
    apartment: str | None
    valid_from: date
    valid_until: date | None
    purpose: StayPurpose | None
    arrived_from: str | None


@dataclass(frozen=True)
class EndResidence(Command):
    person_id: uuid.UUID
    residence_id: uuid.UUID
    ended_on: date


@dataclass(frozen=True)
class ListResidences(Read):
    person_id: uuid.UUID


@dataclass(frozen=True)
class RecordEmigration(Command):
    person_id: uuid.UUID
    destination_country: str
    departed_on: date


@dataclass(frozen=True)
class ApplyForResettlement(Command):
    applicant_id: uuid.UUID
    category: ResettlementCategory
    family_member_ids: tuple[uuid.UUID, ...]
    target_region: str
    target_year: int


@dataclass(frozen=True)
class GetApplication(Read):
    application_id: uuid.UUID


@dataclass(frozen=True)
class WithdrawApplication(Command):
    application_id: uuid.UUID


@dataclass(frozen=True)
class ListApplications(Read):
    region: str | None
    status: ApplicationStatus | None
    year: int | None
    after: tuple[datetime, uuid.UUID] | None
    limit: int


@dataclass(frozen=True)
class ListAudit(Command):
    person_id: uuid.UUID
    after: int | None
    limit: int


@dataclass(frozen=True)
class ExpireTemporaryStays(Command):
    """The worker's scheduled check: end temporary stays whose valid_until has passed."""

    today: date
    batch_size: int = 500
