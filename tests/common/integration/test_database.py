"""The driver-level pool (`koshiqon.common.database`) against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from support.http import DATABASE_AWAY
from support.selftest import Workspace

from koshiqon.common.database.driver import Database, Params, driver_connection

pytestmark = pytest.mark.integration


@pytest.fixture
async def database(ws: Workspace) -> AsyncIterator[Database]:
    database = await Database.open(ws.dsn, schema=ws.schema, application=ws.schema, size=2)
    try:
        yield database
    finally:
        await database.close()


async def effects(ws: Workspace, event_id: uuid.UUID) -> int:
    return await ws.scalar(f"SELECT count(*) FROM effects WHERE event_id = '{event_id}'")


INSERT = "INSERT INTO effects (event_id, counter, seq) VALUES ($1, 'c', 1)"


async def test_connections_work_in_the_service_schema_under_its_application_name(
    ws: Workspace, database: Database
) -> None:
    async with database.transaction() as conn:
        assert await conn.fetchval("SELECT current_schema()") == ws.schema
        name = await conn.fetchval("SELECT current_setting('application_name')")
    assert name == ws.schema


async def test_a_transaction_commits_when_its_block_ends_and_rolls_back_when_it_raises(
    ws: Workspace, database: Database
) -> None:
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    async with database.transaction() as conn:
        await conn.execute(INSERT, kept)

    async def failing_use_case() -> None:
        async with database.transaction() as conn:
            await conn.execute(INSERT, dropped)
            raise RuntimeError("the use case fails after its write")

    with pytest.raises(RuntimeError):
        await failing_use_case()
    assert (await effects(ws, kept), await effects(ws, dropped)) == (1, 0)


async def test_a_transaction_begun_and_closed_without_commit_rolls_back(
    ws: Workspace, database: Database
) -> None:
    dropped = uuid.uuid4()
    transaction = await database.begin()
    await transaction.conn.execute(INSERT, dropped)
    await transaction.close()
    await transaction.close()  # idempotent: the connection went back once
    assert await effects(ws, dropped) == 0
    async with database.transaction() as a, database.transaction() as b:  # both came back
        assert {await a.fetchval("SELECT 1"), await b.fetchval("SELECT 1")} == {1}


async def test_a_failed_commit_raises_its_own_error_and_the_connection_comes_back(
    ws: Workspace, database: Database
) -> None:
    """A deferred constraint fails at COMMIT, which ends the transaction in PostgreSQL: the
    caller sees that error (a unique violation, a serialization failure: what decides its
    answer), not a second one from rolling back a transaction that no longer exists."""
    async with database.transaction() as conn:
        await conn.execute(
            "CREATE TABLE deferred_codes (code int,"
            " CONSTRAINT uq_deferred_codes UNIQUE (code) DEFERRABLE INITIALLY DEFERRED)"
        )
    for attempt in range(3):  # more than the pool's size: each connection came back
        with pytest.raises(asyncpg.UniqueViolationError):
            async with database.transaction() as conn:
                await conn.execute("INSERT INTO deferred_codes VALUES ($1), ($1)", attempt)
    transaction = await database.begin()
    await transaction.conn.execute("INSERT INTO deferred_codes VALUES (7), (7)")
    with pytest.raises(asyncpg.UniqueViolationError):
        await transaction.commit()
    await transaction.close()
    assert await ws.scalar("SELECT count(*) FROM deferred_codes") == 0
    async with database.transaction() as conn:
        assert not conn.is_closed()
        await conn.execute("INSERT INTO deferred_codes VALUES (1)")
    assert await ws.scalar("SELECT count(*) FROM deferred_codes") == 1


async def test_a_transaction_cancelled_mid_statement_ends_cancelled_and_leaves_nothing(
    ws: Workspace, database: Database
) -> None:
    """A request cancelled while its statement runs (the client went away, a timeout): the
    caller sees the cancellation itself, nothing of the transaction stays, and the pool keeps
    serving its size."""
    dropped = uuid.uuid4()
    writing = asyncio.Event()

    async def use_case() -> None:
        transaction = await database.begin()
        try:
            await transaction.conn.execute(INSERT, dropped)
            writing.set()
            await transaction.conn.execute("SELECT pg_sleep(10)")
            await transaction.commit()
        finally:
            await transaction.close()

    task = asyncio.create_task(use_case())
    await writing.wait()
    await asyncio.sleep(0.1)  # inside pg_sleep
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    assert await effects(ws, dropped) == 0
    async with database.transaction() as a, database.transaction() as b:
        assert {await a.fetchval("SELECT 1"), await b.fetchval("SELECT 1")} == {1}


async def test_a_connection_released_inside_a_transaction_comes_back_rolled_back(
    ws: Workspace, database: Database
) -> None:
    """The pool's reset: the only session state its users may leave is an open transaction."""
    leaked = uuid.uuid4()
    conn = await database.acquire()
    await conn.execute("BEGIN")
    await conn.execute(INSERT, leaked)
    await database.release(conn)
    async with database.transaction() as again:
        assert await again.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", leaked) == 0
    assert await effects(ws, leaked) == 0


async def test_the_pool_never_opens_more_connections_than_its_size(
    ws: Workspace, database: Database
) -> None:
    async def hold() -> None:
        async with database.transaction() as conn:
            await conn.execute("SELECT pg_sleep(0.2)")

    await asyncio.gather(*(hold() for _ in range(6)))
    async with database.transaction() as conn:
        opened = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", ws.schema
        )
    assert opened <= 2


async def test_a_statement_on_the_driver_connection_belongs_to_the_sessions_transaction(
    ws: Workspace,
) -> None:
    """SQLAlchemy begins lazily: the driver connection of a session that ran nothing yet must
    still be inside the session's transaction, or its writes would commit on their own."""
    rolled_back, committed = uuid.uuid4(), uuid.uuid4()
    async with ws.sessions() as session:
        conn = await driver_connection(session)
        assert conn.is_in_transaction()
        await conn.execute(INSERT, rolled_back)
        await session.rollback()
    async with ws.sessions() as session:
        await (await driver_connection(session)).execute(INSERT, committed)
        await session.execute(text("SELECT 1"))
        await session.commit()
    assert (await effects(ws, rolled_back), await effects(ws, committed)) == (0, 1)


async def test_a_pool_opens_while_postgresql_is_away_and_says_so_on_first_use() -> None:
    database = await Database.open(DATABASE_AWAY, schema="absent", application="t")
    try:
        with pytest.raises((OSError, asyncpg.PostgresError)):
            await database.acquire()
    finally:
        await database.close()


async def test_the_pool_shows_its_connections_and_waits_on_metrics(
    ws: Workspace, database: Database
) -> None:
    async with database.transaction() as conn:
        assert await conn.fetchval("SELECT 1") == 1
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in REGISTRY.collect()
        for s in metric.samples
        if s.labels.get("pool") == ws.schema
    }
    assert samples[("koshiqon_db_pool_connections", (("pool", ws.schema), ("state", "open")))] == 1
    assert samples[("koshiqon_db_pool_connections", (("pool", ws.schema), ("state", "idle")))] == 1
    assert samples[("koshiqon_db_pool_connections", (("pool", ws.schema), ("state", "max")))] == 2
    assert samples[("koshiqon_db_pool_wait_seconds_count", (("pool", ws.schema),))] >= 1
    await database.close()
    gauges = [
        s for m in REGISTRY.collect() for s in m.samples if s.name == "koshiqon_db_pool_connections"
    ]
    assert all(s.labels["pool"] != ws.schema for s in gauges)


def test_params_number_the_values_they_keep() -> None:
    p = Params()
    sql = f"region = {p('750000000')} AND year >= {p(2026)} LIMIT {p(10)}"
    assert sql == "region = $1 AND year >= $2 LIMIT $3"
    assert p.values == ["750000000", 2026, 10]


async def test_a_schema_that_is_not_a_plain_identifier_is_refused() -> None:
    with pytest.raises(ValueError, match="identifier"):
        await Database.open("postgresql://u:p@127.0.0.1:9/d", schema="x; DROP", application="t")
