"""A fake unit of work for handler tests (tests/support/fakes.FakeUnitOfWork over a `Store`):
in-memory repositories that satisfy the service's repository Protocols, the same uniqueness
rules, and the committed events kept with their subjects for inspection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
from support.fakes import Emitted
from support.fakes import FakeUnitOfWork as BaseFakeUnitOfWork

from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.messagebus import Actor
from koshiqon.registration.bootstrap import bootstrap
from koshiqon.registration.bus import Bus
from koshiqon.registration.domain.errors import DuplicatePerson, OpenApplicationExists
from koshiqon.registration.domain.model import (
    AuditEntry,
    Person,
    Residence,
    ResidenceStatus,
    TravelDocument,
    concerns,
)
from koshiqon.registration.domain.resettlement import (
    OPEN_STATUSES,
    ApplicationStatus,
    ResettlementApplication,
)
from koshiqon.registration.unit_of_work import (
    ApplicationRepository,
    AuditRepository,
    PersonRepository,
    ResidenceRepository,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Store:
    persons: dict[uuid.UUID, Person] = field(default_factory=dict)
    residences: dict[uuid.UUID, Residence] = field(default_factory=dict)
    applications: dict[uuid.UUID, ResettlementApplication] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)


class FakePersons:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, person: Person) -> None:
        for other in self.store.persons.values():
            if person.iin is not None and other.iin == person.iin:
                raise DuplicatePerson("duplicate IIN", field="iin")
            if person.travel_document and other.travel_document == person.travel_document:
                raise DuplicatePerson("duplicate document", field="travel_document")
        self.store.persons[person.id] = person

    async def get(self, person_id: uuid.UUID, *, lock: bool = False) -> Person | None:
        return self.store.persons.get(person_id)

    async def get_many(self, person_ids: Sequence[uuid.UUID]) -> list[Person]:
        return [p for i, p in self.store.persons.items() if i in person_ids]

    async def find(
        self, *, iin: str | None, travel_document: TravelDocument | None
    ) -> list[Person]:
        return [
            p
            for p in self.store.persons.values()
            if (iin and p.iin == iin) or (travel_document and p.travel_document == travel_document)
        ]

    async def regions(self, person_id: uuid.UUID) -> set[str]:
        return {r.region for r in self.store.residences.values() if r.person_id == person_id}


class FakeResidences:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, residence: Residence) -> None:
        self.store.residences[residence.id] = residence

    async def get(self, person_id: uuid.UUID, residence_id: uuid.UUID) -> Residence | None:
        found = self.store.residences.get(residence_id)
        return found if found and found.person_id == person_id else None

    async def active(self, person_id: uuid.UUID) -> list[Residence]:
        return [
            r
            for r in self.store.residences.values()
            if r.person_id == person_id and r.status is ResidenceStatus.ACTIVE
        ]

    async def concerning(self, new: Residence) -> list[Residence]:
        return [r for r in await self.active(new.person_id) if concerns(new, r)]

    async def of_person(self, person_id: uuid.UUID, *, region: str | None) -> list[Residence]:
        return [
            r
            for r in self.store.residences.values()
            if r.person_id == person_id and region in (None, r.region)
        ]

    async def end(self, residence: Residence) -> bool:
        current = self.store.residences[residence.id]
        if current.status is not ResidenceStatus.ACTIVE:
            return False
        self.store.residences[residence.id] = residence
        return True

    async def due_temporary(self, *, today: date, limit: int) -> list[Residence]:
        due = [
            r
            for r in self.store.residences.values()
            if r.status is ResidenceStatus.ACTIVE and r.valid_until and r.valid_until < today
        ]
        return due[:limit]


class FakeApplications:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, app: ResettlementApplication) -> None:
        for other in self.store.applications.values():
            if other.applicant_id == app.applicant_id and other.status in OPEN_STATUSES:
                raise OpenApplicationExists("open application", field="applicant_id")
        self.store.applications[app.id] = app

    async def get(
        self, application_id: uuid.UUID, *, lock: bool = False
    ) -> ResettlementApplication | None:
        return self.store.applications.get(application_id)

    async def save(self, app: ResettlementApplication, *, was: ApplicationStatus) -> bool:
        if self.store.applications[app.id].status is not was:
            return False
        self.store.applications[app.id] = app
        return True

    async def pending_quota(
        self, *, asked_before: datetime, limit: int
    ) -> list[ResettlementApplication]:
        due = sorted(
            (
                a
                for a in self.store.applications.values()
                if a.status is ApplicationStatus.PENDING_QUOTA
                and a.quota_requested_at <= asked_before
            ),
            key=lambda a: (a.quota_requested_at, a.id),
        )
        return due[:limit]

    async def approved_for(
        self, applicant_id: uuid.UUID, *, region: str
    ) -> ResettlementApplication | None:
        return next(
            (
                a
                for a in self.store.applications.values()
                if a.applicant_id == applicant_id
                and a.status is ApplicationStatus.APPROVED
                and a.target_region == region
            ),
            None,
        )

    async def search(
        self,
        *,
        region: str | None,
        status: ApplicationStatus | None,
        year: int | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[ResettlementApplication]:
        return list(self.store.applications.values())[:limit]


class FakeAudit:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self,
        actor: Actor,
        *,
        person_ids: Sequence[uuid.UUID],
        route: str,
        correlation_id: str | None,
    ) -> None:
        for person_id in person_ids:
            entry = AuditEntry(
                len(self.store.audit) + 1,
                NOW,
                actor.subject,
                actor.agency,
                actor.region,
                person_id,
                route,
                correlation_id,
            )
            self.store.audit.append(entry)

    async def of_person(
        self, person_id: uuid.UUID, *, after: int | None, limit: int
    ) -> list[AuditEntry]:
        entries = [e for e in self.store.audit if e.person_id == person_id]
        return [e for e in entries if after is None or e.id > after][:limit]


class FakeUnitOfWork(BaseFakeUnitOfWork[Store]):
    """One instance serves every `deps.uow()` of a test, so `published` holds every
    committed event; changes go to the store and are undone unless committed."""

    persons: PersonRepository
    residences: ResidenceRepository
    applications: ApplicationRepository
    audit: AuditRepository

    def bind(self) -> None:
        self.persons = FakePersons(self.state)
        self.residences = FakeResidences(self.state)
        self.applications = FakeApplications(self.state)
        self.audit = FakeAudit(self.state)

    @property
    def outbox(self) -> list[EventPayload]:
        return [e.payload for e in self.published]


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def uow(store: Store) -> FakeUnitOfWork:
    return FakeUnitOfWork(store)


@pytest.fixture
def bus(uow: FakeUnitOfWork) -> Bus:
    return bootstrap(lambda: uow, now=lambda: NOW)


__all__ = ["NOW", "Emitted", "FakeUnitOfWork", "Store"]
