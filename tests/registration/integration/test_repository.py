"""The residence repository against the real schema: the SQL that loads the active
registrations a new one concerns selects exactly those `domain.model.concerns` names."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta

import asyncpg
import pytest
from registration.integration.conftest import Service

from koshiqon.common.database.driver import Database
from koshiqon.common.events.registration import EndReason, ResidenceKind, StayPurpose
from koshiqon.registration.domain.model import Address, Residence, ResidenceStatus, concerns
from koshiqon.registration.unit_of_work import SqlUnitOfWork

pytestmark = pytest.mark.integration

DAY0 = date(2024, 3, 1)
HOME = Address(kato="591010000", street="Abaya", building="1")
HOSTEL = Address(kato="751110000", street="Abylai khan", building="12", apartment="4")


def day(n: int) -> date:
    return DAY0 + timedelta(days=n)


def stay(person: uuid.UUID, first: int, last: int, *, address: Address = HOSTEL) -> Residence:
    return Residence(
        id=uuid.uuid4(),
        person_id=person,
        kind=ResidenceKind.TEMPORARY,
        address=address,
        valid_from=day(first),
        valid_until=day(last),
        purpose=StayPurpose.WORK,
    )


def permanent(person: uuid.UUID, first: int, *, arrived_from: str | None = None) -> Residence:
    return Residence(
        id=uuid.uuid4(),
        person_id=person,
        kind=ResidenceKind.PERMANENT,
        address=HOME,
        valid_from=day(first),
        valid_until=None,
        purpose=None,
        arrived_from=arrived_from,
    )


@pytest.fixture
async def database(service: Service) -> AsyncIterator[Database]:
    database = await Database.open(
        service.schema.dsn, schema=service.schema.schema, application="test-repository", size=2
    )
    yield database
    await database.close()


async def test_concerning_loads_exactly_what_the_rules_look_at(
    service: Service, database: Database
) -> None:
    person = uuid.UUID(await service.person())
    held = [
        permanent(person, 0),
        stay(person, 3, 5),
        stay(person, 5, 5),
        stay(person, 6, 9, address=HOME),
        stay(person, 10, 12),
        stay(person, 40, 60),
    ]
    ended = stay(person, 4, 8).ended(on=day(6), reason=EndReason.DEREGISTERED)
    async with SqlUnitOfWork(database) as uow:
        for residence in [*held, ended]:
            await uow.residences.add(residence)
        await uow.commit()
    assert ended.status is ResidenceStatus.ENDED

    candidates = [
        permanent(person, 20),
        permanent(person, 20, arrived_from="UZB"),
        replace(stay(person, 1, 2), arrived_from="CHN"),
        *(stay(person, first, last) for first in range(1, 14) for last in range(first, 14)),
        stay(person, 13, 39),
        stay(person, 61, 90),
        stay(person, 0, 100),
    ]
    async with SqlUnitOfWork(database) as uow:
        for new in candidates:
            loaded = await uow.residences.concerning(new)
            expected = {r.id for r in held if concerns(new, r)}
            assert {r.id for r in loaded} == expected, (new.valid_from, new.valid_until)
            assert all(r.status is ResidenceStatus.ACTIVE for r in loaded)
    # the grid is not vacuous: some candidates concern nothing, some several stays
    sizes = {len({r.id for r in held if concerns(new, r)}) for new in candidates}
    assert {0, 1, 2, len(held)} <= sizes


async def test_a_failed_commit_surfaces_the_databases_error(database: Database) -> None:
    """What fails at COMMIT (a deferred constraint here; a serialization failure in real life)
    reaches the caller as itself, which decides the answer (409, 503), not as an error from
    rolling back a transaction that PostgreSQL has already ended."""

    async def duplicate_at_commit() -> None:
        async with SqlUnitOfWork(database) as uow:
            conn = uow.residences.conn
            await conn.execute(
                "CREATE TEMPORARY TABLE codes (code int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
                " ON COMMIT DROP"
            )
            await conn.execute("INSERT INTO codes VALUES (1), (1)")
            await uow.commit()

    for _ in range(3):  # more than the pool's size: the connection comes back each time
        with pytest.raises(asyncpg.UniqueViolationError):
            await duplicate_at_commit()
    async with SqlUnitOfWork(database) as uow:
        assert await uow.residences.conn.fetchval("SELECT to_regclass('codes')") is None


async def test_a_unit_of_work_cancelled_mid_statement_ends_cancelled(database: Database) -> None:
    """A request cancelled while a statement runs (the client went away): the cancellation
    reaches the caller as itself, and the connection goes back usable."""
    writing = asyncio.Event()

    async def handler() -> None:
        async with SqlUnitOfWork(database) as uow:
            writing.set()
            await uow.residences.conn.execute("SELECT pg_sleep(10)")
            await uow.commit()

    for _ in range(3):  # more than the pool's size: the connection comes back each time
        writing.clear()
        task = asyncio.create_task(handler())
        await writing.wait()
        await asyncio.sleep(0.1)  # inside pg_sleep
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
    async with SqlUnitOfWork(database) as uow:
        assert await uow.residences.conn.fetchval("SELECT 1") == 1
