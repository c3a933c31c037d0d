"""A fake unit of work for handler tests: in-memory repositories with the real ones'
methods, the same uniqueness rules, and the emitted events kept for inspection."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self

import pytest

from koshiqon.common.errors import Conflict
from koshiqon.common.events.contracts import EventPayload
from koshiqon.registration.bootstrap import MessageBus, bootstrap
from koshiqon.registration.domain.errors import DuplicatePerson
from koshiqon.registration.domain.model import (
    Actor,
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

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Store:
    def __init__(self) -> None:
        self.persons: dict[uuid.UUID, Person] = {}
        self.residences: dict[uuid.UUID, Residence] = {}
        self.applications: dict[uuid.UUID, ResettlementApplication] = {}
        self.audit: list[AuditEntry] = []
        self.outbox: list[EventPayload] = []


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

    async def get_many(self, person_ids: list[uuid.UUID]) -> list[Person]:
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
                raise Conflict("open application", field="applicant_id")
        self.store.applications[app.id] = app

    async def get(self, application_id: uuid.UUID, *, lock: bool = False) -> Any:
        return self.store.applications.get(application_id)

    async def save(self, app: ResettlementApplication, *, was: ApplicationStatus) -> bool:
        if self.store.applications[app.id].status is not was:
            return False
        self.store.applications[app.id] = app
        return True

    async def approved_for(self, applicant_id: uuid.UUID, *, region: str) -> Any:
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

    async def search(self, **_: Any) -> list[ResettlementApplication]:
        return list(self.store.applications.values())


class FakeAudit:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self, actor: Actor, *, person_ids: list[uuid.UUID], route: str, correlation_id: Any
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

    async def of_person(self, person_id: uuid.UUID, *, after: Any, limit: int) -> list[AuditEntry]:
        return [e for e in self.store.audit if e.person_id == person_id][:limit]


class FakeUnitOfWork:
    """Changes go to a copy of the store and replace it on commit; no commit, no change."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.committed = False

    async def __aenter__(self) -> Self:
        self.work = Store()
        self.work.persons = dict(self.store.persons)
        self.work.residences = dict(self.store.residences)
        self.work.applications = dict(self.store.applications)
        self.work.audit = list(self.store.audit)
        self.work.outbox = list(self.store.outbox)
        self.persons = FakePersons(self.work)
        self.residences = FakeResidences(self.work)
        self.applications = FakeApplications(self.work)
        self.audit = FakeAudit(self.work)
        self.events: list[EventPayload] = []
        return self

    async def __aexit__(
        self, exc_type: Any, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def emit(self, events: list[EventPayload]) -> None:
        self.events.extend(events)

    async def commit(self) -> None:
        self.work.outbox.extend(self.events)
        self.events = []
        self.store.__dict__.update(replace_store(self.work).__dict__)
        self.committed = True


def replace_store(work: Store) -> Store:
    fresh = Store()
    fresh.__dict__.update(work.__dict__)
    return fresh


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def fake_uow(store: Store) -> Any:
    return lambda: FakeUnitOfWork(store)


@pytest.fixture
def bus(store: Store) -> MessageBus:
    return bootstrap(lambda: FakeUnitOfWork(store), now=lambda: NOW)  # type: ignore[arg-type,return-value]


__all__ = ["NOW", "FakeUnitOfWork", "Store", "replace"]
