"""The repositories and the unit of work against the real schema: the SQL that loads the
active registrations a new one concerns selects exactly those `domain.model.concerns` names;
a failed commit and a cancelled statement end as themselves, on Core and driver alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from registration.integration.conftest import Service
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common.database.engine import create_engine
from koshiqon.common.events.registration import EndReason, ResidenceKind, StayPurpose
from koshiqon.common.messagebus import Actor
from koshiqon.registration.bootstrap import sql_bus
from koshiqon.registration.domain import commands as c
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
async def engine(service: Service) -> AsyncIterator[AsyncEngine]:
    """An engine of two connections, as the service's own engine is made."""
    schema = service.schema
    engine = create_engine(schema.dsn, schema=schema.schema, application="test-repo", pool_size=2)
    yield engine
    await engine.dispose()


async def test_concerning_loads_exactly_what_the_rules_look_at(
    service: Service, engine: AsyncEngine
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
    async with SqlUnitOfWork(engine) as uow:
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
    async with SqlUnitOfWork(engine) as uow:
        for new in candidates:
            loaded = await uow.residences.concerning(new)
            expected = {r.id for r in held if concerns(new, r)}
            assert {r.id for r in loaded} == expected, (new.valid_from, new.valid_until)
            assert all(r.status is ResidenceStatus.ACTIVE for r in loaded)
    # the grid is not vacuous: some candidates concern nothing, some several stays
    sizes = {len({r.id for r in held if concerns(new, r)}) for new in candidates}
    assert {0, 1, 2, len(held)} <= sizes


def register_stay(person: uuid.UUID, first: int) -> c.RegisterResidence:
    return c.RegisterResidence(
        actor=Actor(subject="test"),
        person_id=person,
        kind=ResidenceKind.TEMPORARY,
        kato=HOSTEL.kato,
        street=HOSTEL.street,
        building=HOSTEL.building,
        apartment=None,
        valid_from=day(first),
        valid_until=day(first + 1),
        purpose=StayPurpose.WORK,
        arrived_from=None,
    )


async def test_a_residence_registration_takes_the_round_trips_of_a_plain_transaction(
    service: Service, engine: AsyncEngine
) -> None:
    """The registration path runs on the driver from BEGIN to COMMIT and never makes a Core
    connection: the round trips of a plain asyncpg transaction (BEGIN, lock, stays, insert,
    outbox, COMMIT), no `SELECT 1`."""
    core: list[str] = []  # what SQLAlchemy sends (Core, and `exec_driver_sql`)
    driver: list[str] = []  # what the driver sends itself (BEGIN, the plain-SQL repositories)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def log_core(*args: Any) -> None:
        core.append(args[2])

    @event.listens_for(engine.sync_engine, "connect")
    def log_driver(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda r: driver.append(r.query))

    person = uuid.UUID(await service.person())
    bus = sql_bus(engine)
    for first in (1, 5, 9):
        if first == 5:  # past the first, whose connection asked the server about types
            await asyncio.sleep(0.1)
            core.clear()
            driver.clear()
        await bus.handle(register_stay(person, first))
    await asyncio.sleep(0.1)  # the driver calls its query loggers soon after each statement
    assert core == []
    one = ["BEGIN;", "lock persons", "read residences", "insert residences", "outbox", "COMMIT;"]
    assert [_kind(query) for query in driver] == one * 2, driver


def _kind(query: str) -> str:
    for kind, sign in (
        ("lock persons", "FROM persons WHERE id = $1 FOR UPDATE"),
        ("read residences", "FROM residences WHERE"),
        ("insert residences", "INSERT INTO residences"),
        ("outbox", "INSERT INTO outbox"),
    ):
        if sign in query:
            return kind
    return query


async def test_a_failed_commit_surfaces_the_databases_error(engine: AsyncEngine) -> None:
    """What fails at COMMIT (a deferred constraint here; a serialization failure in real life)
    reaches the caller as itself (the driver's error, which the problem handlers map to 409
    or 503), not as an error from rolling back a transaction that PostgreSQL has already
    ended."""

    async def duplicate_at_commit() -> None:
        async with SqlUnitOfWork(engine) as uow:
            conn = await uow.transaction.driver()
            await conn.execute(
                "CREATE TEMPORARY TABLE codes (code int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
                " ON COMMIT DROP"
            )
            await conn.execute("INSERT INTO codes VALUES (1), (1)")
            await uow.commit()

    for _ in range(3):  # more than the pool's size: the connection comes back each time
        with pytest.raises(asyncpg.UniqueViolationError):
            await duplicate_at_commit()
    async with SqlUnitOfWork(engine) as uow:
        assert (
            await (await uow.transaction.driver()).fetchval("SELECT to_regclass('codes')") is None
        )


@pytest.mark.parametrize("path", ["core", "driver"])
async def test_a_unit_of_work_cancelled_mid_statement_ends_cancelled(
    engine: AsyncEngine, path: str
) -> None:
    """A request cancelled while a statement runs (the client went away): the cancellation
    reaches the caller as itself, and the connection goes back usable."""
    writing = asyncio.Event()

    async def handler() -> None:
        async with SqlUnitOfWork(engine) as uow:
            writing.set()
            if path == "core":
                await (await uow.transaction.core()).execute(text("SELECT pg_sleep(10)"))
            else:
                await (await uow.transaction.driver()).execute("SELECT pg_sleep(10)")
            await uow.commit()

    for _ in range(3):  # more than the pool's size: the connection comes back each time
        writing.clear()
        task = asyncio.create_task(handler())
        await writing.wait()
        await asyncio.sleep(0.1)  # inside pg_sleep
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
    async with SqlUnitOfWork(engine) as uow:
        assert await (await uow.transaction.driver()).fetchval("SELECT 1") == 1
