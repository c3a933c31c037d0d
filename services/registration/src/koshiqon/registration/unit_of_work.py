"""The registration unit of work: what handlers see of it (`UnitOfWork`, its repositories as
Protocols that `adapters.repository` implements, so unit tests pass fakes through
`bootstrap`) and the real one (`SqlUnitOfWork`).

`SqlUnitOfWork` is libs/common's: one transaction on the service engine's SQLAlchemy Core
connection (owned per `async with`, or borrowed from the consumer runner), the events
emitted with their subject written to the outbox at `commit`. `bind` builds the
repositories over that connection; the residence-registration path also reaches the driver
connection of the same transaction (`driver`), which begins the transaction itself when it
is the first to run a statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, ClassVar, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from koshiqon.common import unit_of_work
from koshiqon.common.database.driver import Connection as DriverConnection
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

    def __init__(
        self, within: AsyncEngine | AsyncConnection, *, traceparent: str | None = None
    ) -> None:
        super().__init__(within, traceparent=traceparent)
        self._driver: DriverConnection | None = None

    def bind(self, connection: AsyncConnection) -> None:
        self._driver = None
        self.persons = repository.PersonRepository(connection, self.driver)
        self.residences = repository.ResidenceRepository(connection, self.driver)
        self.applications = repository.ApplicationRepository(connection, self.driver)
        self.audit = repository.AuditRepository(connection)

    async def driver(self) -> DriverConnection:
        """The driver connection of this transaction, looked up once (each look-up is a
        hop through SQLAlchemy's async adapter).

        When no statement has run yet, the transaction is begun here, with the BEGIN that
        SQLAlchemy's asyncpg adapter would send before its own first statement (it sends it
        lazily), rather than libs/common's `SELECT 1` after it: the registration path's
        first statement, the person's lock, is on the driver, and so its round trips stay
        those of a plain asyncpg transaction. Should the adapter ever lack that method, the
        common way (one round trip more) still gives a correct transaction."""
        if self._driver is None:
            self._driver = await _begun_driver(self.connection) or await super().driver()
        return self._driver


async def _begun_driver(connection: AsyncConnection) -> DriverConnection | None:
    """The asyncpg connection under `connection`, its transaction begun by SQLAlchemy's
    adapter (which then commits or rolls it back); None if the adapter cannot."""
    raw: Any = await connection.get_raw_connection()
    adapter = raw.dbapi_connection
    start = getattr(adapter, "_start_transaction", None)
    if start is None or not hasattr(adapter, "_transaction"):
        return None
    if adapter._transaction is None:
        await start()  # BEGIN; the adapter's commit and rollback end it
    driver: DriverConnection = raw.driver_connection
    return driver if driver.is_in_transaction() else None  # (an autocommit engine begins none)
