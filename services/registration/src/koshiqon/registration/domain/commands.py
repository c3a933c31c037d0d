"""What callers ask of the registration service: one command per use case, each a
`Command[R]` (libs/common's messagebus) whose handler returns `R`.

Every command carries the `Actor` who asks: region limits and the audit of reads need it.
Reads of personal data are commands too, because each one writes an audit row in the same
transaction as the read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from koshiqon.common.events.registration import (
    LegalStatus,
    ResettlementCategory,
    ResidenceKind,
    StayPurpose,
)
from koshiqon.common.kz import Sex
from koshiqon.common.messagebus import Actor, Command
from koshiqon.registration.domain.model import (
    AuditEntry,
    KandasStatus,
    Person,
    Residence,
    TravelDocument,
)
from koshiqon.registration.domain.resettlement import ApplicationStatus, ResettlementApplication

__all__ = [
    "WORKER",
    "Actor",
    "ApplyForResettlement",
    "Command",
    "EndResidence",
    "ExpireTemporaryStays",
    "FindPersons",
    "GetApplication",
    "GetPerson",
    "ListApplications",
    "ListAudit",
    "ListResidences",
    "Read",
    "RecordEmigration",
    "RegisterPerson",
    "RegisterResidence",
    "TravelDocument",
    "WithdrawApplication",
]

R = TypeVar("R", covariant=True)

WORKER = Actor(subject="registration-worker")  # the worker's scheduled jobs


@dataclass(frozen=True, kw_only=True)
class Read(Command[R]):
    """A read of personal data: `route` (the path template) goes into the audit row."""

    route: str


@dataclass(frozen=True)
class RegisterPerson(Command[Person]):
    legal_status: LegalStatus
    iin: str | None
    travel_document: TravelDocument | None
    surname_latin: str
    given_names_latin: str
    surname_cyrillic: str | None
    given_names_cyrillic: str | None
    birth_date: date
    sex: Sex
    citizenship: str | None
    ethnicity: str | None
    kandas: KandasStatus | None


@dataclass(frozen=True)
class GetPerson(Read[Person]):
    person_id: uuid.UUID


@dataclass(frozen=True)
class FindPersons(Read[list[Person]]):
    iin: str | None = None
    travel_document: TravelDocument | None = None


@dataclass(frozen=True)
class RegisterResidence(Command[Residence]):
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
class EndResidence(Command[Residence]):
    person_id: uuid.UUID
    residence_id: uuid.UUID
    ended_on: date


@dataclass(frozen=True)
class ListResidences(Read[list[Residence]]):
    person_id: uuid.UUID


@dataclass(frozen=True)
class RecordEmigration(Command[list[Residence]]):
    person_id: uuid.UUID
    destination_country: str
    departed_on: date


@dataclass(frozen=True)
class ApplyForResettlement(Command[ResettlementApplication]):
    applicant_id: uuid.UUID
    category: ResettlementCategory
    family_member_ids: tuple[uuid.UUID, ...]
    target_region: str
    target_year: int


@dataclass(frozen=True)
class GetApplication(Read[ResettlementApplication]):
    application_id: uuid.UUID


@dataclass(frozen=True)
class WithdrawApplication(Command[ResettlementApplication]):
    application_id: uuid.UUID


@dataclass(frozen=True)
class ListApplications(Read[list[ResettlementApplication]]):
    region: str | None
    status: ApplicationStatus | None
    year: int | None
    after: tuple[datetime, uuid.UUID] | None
    limit: int


@dataclass(frozen=True)
class ListAudit(Command[list[AuditEntry]]):
    person_id: uuid.UUID
    after: int | None
    limit: int


@dataclass(frozen=True)
class ExpireTemporaryStays(Command[int]):
    """The worker's scheduled check: end temporary stays whose valid_until has passed."""

    today: date
    batch_size: int = 500


@dataclass(frozen=True)
class RequestQuotaAgain(Command[int]):
    """The worker's scheduled check: ask the quota service again for (at most `limit` of)
    the applications still pending_quota whose quota was last asked `pending_for` ago or
    more; the result is how many were asked."""

    pending_for: timedelta
    limit: int = 100
