"""The registration unit of work: what handlers see of it (`UnitOfWork`, its repositories as
Protocols that `adapters.repository` implements, so unit tests pass fakes through
`bootstrap`) and the real one (`SqlUnitOfWork`).

`SqlUnitOfWork` is libs/common's: one transaction (owned per `async with`, or borrowed from
the consumer runner), the events emitted with their subject written to the outbox at
`commit`. `bind` builds the repositories over that transaction: SQLAlchemy Core, and the
driver connection for the residence-registration path (`adapters.repository`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import ClassVar, Protocol

from koshiqon.common import unit_of_work
from koshiqon.common.messagebus import Actor
from koshiqon.registration.adapters import repository
from koshiqon.registration.domain.model import AuditEntry, Person, Residence, TravelDocument
from koshiqon.registration.domain.resettlement import ApplicationStatus, ResettlementApplication


class PersonRepository(Protocol):
    async def add(self, person: Person) -> None: ...

    async def get(self, person_id: uuid.UUID, *, lock: bool = False) -> Person | None: ...

    async def get_many(self, person_ids: Sequence[uuid.UUID]) -> list[Person]: ...

    async def find(
        self, *, iin: str | None, travel_document: TravelDocument | None
    ) -> list[Person]: ...

    async def regions(self, person_id: uuid.UUID) -> set[str]: ...


class ResidenceRepository(Protocol):
    async def add(self, residence: Residence) -> None: ...

    async def get(self, person_id: uuid.UUID, residence_id: uuid.UUID) -> Residence | None: ...

    async def active(self, person_id: uuid.UUID) -> list[Residence]: ...

    async def concerning(self, new: Residence) -> list[Residence]: ...

    async def of_person(self, person_id: uuid.UUID, *, region: str | None) -> list[Residence]: ...

    async def end(self, residence: Residence) -> bool: ...

    async def due_temporary(self, *, today: date, limit: int) -> list[Residence]: ...


class ApplicationRepository(Protocol):
    async def add(self, app: ResettlementApplication) -> None: ...

    async def get(
        self, application_id: uuid.UUID, *, lock: bool = False
    ) -> ResettlementApplication | None: ...

    async def save(self, app: ResettlementApplication, *, was: ApplicationStatus) -> bool: ...

    async def pending_quota(
        self, *, asked_before: datetime, limit: int
    ) -> list[ResettlementApplication]: ...

    async def approved_for(
        self, applicant_id: uuid.UUID, *, region: str
    ) -> ResettlementApplication | None: ...

    async def search(
        self,
        *,
        region: str | None,
        status: ApplicationStatus | None,
        year: int | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[ResettlementApplication]: ...


class AuditRepository(Protocol):
    async def record(
        self,
        actor: Actor,
        *,
        person_ids: Sequence[uuid.UUID],
        route: str,
        correlation_id: str | None,
    ) -> None: ...

    async def of_person(
        self, person_id: uuid.UUID, *, after: int | None, limit: int
    ) -> list[AuditEntry]: ...


class UnitOfWork(unit_of_work.UnitOfWork, Protocol):
    persons: PersonRepository
    residences: ResidenceRepository
    applications: ApplicationRepository
    audit: AuditRepository


class SqlUnitOfWork(unit_of_work.SqlUnitOfWork):
    """The registration repositories in one transaction of the service's engine."""

    source: ClassVar[str] = "/koshiqon/registration"
    persons: PersonRepository
    residences: ResidenceRepository
    applications: ApplicationRepository
    audit: AuditRepository

    def bind(self, transaction: unit_of_work.Transaction) -> None:
        self.persons = repository.PersonRepository(transaction)
        self.residences = repository.ResidenceRepository(transaction)
        self.applications = repository.ApplicationRepository(transaction)
        self.audit = repository.AuditRepository(transaction)
