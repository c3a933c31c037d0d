"""libs/common's unit of work on the real PostgreSQL: an owned transaction begun and ended on
the driver over the engine's pool, its Core connection in the same transaction, the outbox
written with each event's subject, savepoints, and a borrowed transaction left to its owner."""

from __future__ import annotations

from typing import ClassVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from support.selftest import Workspace, fresh_contract

from koshiqon.common.unit_of_work import SqlUnitOfWork, Transaction

pytestmark = pytest.mark.integration

PAYLOAD, _ = fresh_contract()
INSERT = "INSERT INTO effects (event_id, counter, seq) VALUES (gen_random_uuid(), {}, 0)"


class Effects:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add_on_core(self, counter: str) -> None:
        core = await self.transaction.core()
        await core.execute(
            text(INSERT.format(":c")),
            {"c": counter},
        )

    async def add_on_driver(self, counter: str) -> None:
        driver = await self.transaction.driver()
        await driver.execute(
            INSERT.format("$1"),
            counter,
        )


class LabUnitOfWork(SqlUnitOfWork):
    source: ClassVar[str] = "/koshiqon/selftest"
    effects: Effects

    def bind(self, transaction: Transaction) -> None:
        self.effects = Effects(transaction)


async def counters(ws: Workspace) -> list[str]:
    async with ws.engine.connect() as conn:
        rows = await conn.execute(text("SELECT counter FROM effects ORDER BY id"))
        return [row.counter for row in rows]


async def outbox_subjects(ws: Workspace) -> list[str]:
    async with ws.engine.connect() as conn:
        rows = await conn.execute(text("SELECT key FROM outbox ORDER BY id"))
        return [row.key for row in rows]


async def test_core_and_driver_statements_commit_as_one_transaction(ws: Workspace) -> None:
    async with LabUnitOfWork(ws.engine) as uow:
        await uow.effects.add_on_driver("driver")
        await uow.effects.add_on_core("core")
        uow.emit(PAYLOAD(counter="a", seq=1), PAYLOAD(counter="a", seq=2), subject="key-a")
        await uow.commit()
    assert await counters(ws) == ["driver", "core"]
    assert await outbox_subjects(ws) == ["key-a", "key-a"]


@pytest.mark.parametrize("core_first", [True, False])
async def test_leaving_without_commit_rolls_both_back(ws: Workspace, core_first: bool) -> None:

    async def refused_unit() -> None:
        async with LabUnitOfWork(ws.engine) as uow:
            if core_first:
                await uow.effects.add_on_core("core")
            await uow.effects.add_on_driver("driver")
            await uow.effects.add_on_core("core")
            uow.emit(PAYLOAD(counter="b", seq=1), subject="key-b")
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        await refused_unit()
    assert await counters(ws) == []
    assert await outbox_subjects(ws) == []


async def test_a_savepoint_undoes_its_writes_and_events_only(ws: Workspace) -> None:
    async with LabUnitOfWork(ws.engine) as uow:
        await uow.effects.add_on_core("kept")
        uow.emit(PAYLOAD(counter="c", seq=1), subject="kept")

        async def refused_part() -> None:
            async with uow.savepoint():
                await uow.effects.add_on_core("undone")
                await uow.effects.add_on_driver("undone too")
                uow.emit(PAYLOAD(counter="c", seq=2), subject="undone")
                raise RuntimeError("refused")

        with pytest.raises(RuntimeError, match="refused"):
            await refused_part()
        await uow.commit()
    assert await counters(ws) == ["kept"]
    assert await outbox_subjects(ws) == ["kept"]


async def test_the_pooled_connection_comes_back_as_the_engine_made_it(ws: Workspace) -> None:
    """The Core connection of a unit of work runs in driver-level autocommit inside the
    driver's transaction; the pool gets the connection back in its default isolation, so
    an ordinary SQLAlchemy transaction afterwards still rolls back."""
    for _ in range(7):  # more than the pool's five: every connection has served a unit
        async with LabUnitOfWork(ws.engine) as uow:
            await uow.effects.add_on_core("unit")
            await uow.commit()
    for _ in range(7):
        async with ws.engine.connect() as conn:
            await conn.execute(text(INSERT.format("'x'")))
            await conn.rollback()
        async with ws.sessions() as session, session.begin():
            level = (await session.execute(text("SHOW transaction_isolation"))).scalar_one()
            assert level == "read committed"
            await session.execute(text(INSERT.format("'y'")))
            await session.rollback()
    assert await counters(ws) == ["unit"] * 7


async def test_a_borrowed_transaction_is_its_owners_to_commit(ws: Workspace) -> None:
    async with ws.engine.connect() as conn:
        await conn.begin()
        async with LabUnitOfWork(conn) as uow:
            await uow.effects.add_on_driver("borrowed")
            await uow.effects.add_on_core("borrowed")
            uow.emit(PAYLOAD(counter="d", seq=1), subject="key-d")
            await uow.commit()  # writes the outbox, commits nothing
        await conn.rollback()
    assert await counters(ws) == []
    assert await outbox_subjects(ws) == []


async def test_an_engine_keeps_its_pool_size(ws: Workspace) -> None:
    engine: AsyncEngine = ws.engine
    for _ in range(20):
        async with LabUnitOfWork(engine) as uow:
            await uow.effects.add_on_driver("n")
            await uow.commit()
    assert engine.sync_engine.pool.checkedout() == 0
    assert engine.sync_engine.pool.size() == 5
