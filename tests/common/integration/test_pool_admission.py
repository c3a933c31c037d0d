"""Units of work get the pool's connections in the order they asked (database.admission), on
the real PostgreSQL: under pool pressure no unit of work is overtaken by more than the
admission's places, where SQLAlchemy's pool alone lets a task that returns a connection
take it again past everyone waiting."""

from __future__ import annotations

import asyncio
import itertools
from typing import ClassVar

import pytest
from support.selftest import Workspace

from koshiqon.common.database.admission import Admission, admission, places_for
from koshiqon.common.unit_of_work import SqlUnitOfWork, Transaction

pytestmark = pytest.mark.integration

WORKERS = 40  # closed loops, each asking again as soon as it has given its connection back
ROUNDS = 8


class LabUnitOfWork(SqlUnitOfWork):
    source: ClassVar[str] = "/koshiqon/selftest"
    lab: Transaction

    def bind(self, transaction: Transaction) -> None:
        self.lab = transaction


async def test_no_unit_of_work_is_overtaken_by_many(ws: Workspace) -> None:
    """Overtaken: served before it by units of work that asked after it. The admitted ones
    may pass each other at the pool (a few places' worth: at most 11-30 in quiet runs, 23
    under a full suite's load); without the admission the pool alone let some wait until
    nearly all 320 were served (260-285 overtook one). The bound, a quarter of them, lies
    well between the two."""
    size = ws.engine.sync_engine.pool.size()  # type: ignore[attr-defined]
    await asyncio.gather(*(enter_and_leave(ws) for _ in range(size)))  # the pool opened
    asked, got = itertools.count(), itertools.count()
    overtaken: list[int] = []
    served: list[tuple[int, int]] = []  # (the order it asked in, the order it got in)

    async def worker() -> None:
        for _ in range(ROUNDS):
            ticket = next(asked)
            async with LabUnitOfWork(ws.engine) as uow:
                served.append((ticket, next(got)))
                await uow.lab.read("SELECT 1")

    await asyncio.gather(*(worker() for _ in range(WORKERS)))

    order = [ticket for ticket, _ in sorted(served, key=lambda s: s[1])]
    for position, ticket in enumerate(order):  # served earlier having asked later
        overtaken.append(sum(1 for later in order[:position] if later > ticket))
    places = places_for(ws.engine.sync_engine.pool)
    assert len(served) == WORKERS * ROUNDS
    bound = WORKERS * ROUNDS // 4
    assert max(overtaken) <= bound, f"overtaken by up to {max(overtaken)} ({places=})"
    assert (admission(ws.engine).inside, admission(ws.engine).waiting) == (0, 0)


async def test_units_of_work_cancelled_while_waiting_give_their_places_up(
    ws: Workspace,
) -> None:
    gate = admission(ws.engine)
    size = ws.engine.sync_engine.pool.size()  # type: ignore[attr-defined]
    holders = [LabUnitOfWork(ws.engine) for _ in range(size)]
    for uow in holders:
        await uow.__aenter__()  # every connection taken
    at_the_pool = [asyncio.create_task(enter(ws)) for _ in range(gate.places - size)]
    at_the_gate = asyncio.create_task(enter(ws))
    await asyncio.sleep(0.1)
    assert (gate.inside, gate.waiting) == (gate.places, 1)
    for cancelled in (at_the_gate, at_the_pool[0]):  # a client that left, at either queue
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    assert (gate.inside, gate.waiting) == (gate.places - 1, 0)
    for uow in holders:
        await uow.__aexit__(None, None, None)
    async with asyncio.timeout(10):
        waited = [await task for task in at_the_pool[1:]]
    for uow in waited:
        await uow.__aexit__(None, None, None)
    assert (gate.inside, gate.waiting) == (0, 0)


async def enter_and_leave(ws: Workspace) -> None:
    uow = await enter(ws)
    await uow.__aexit__(None, None, None)


async def enter(ws: Workspace) -> LabUnitOfWork:
    uow = LabUnitOfWork(ws.engine)
    await uow.__aenter__()
    await uow.lab.read("SELECT 1")
    return uow


async def test_an_admission_lets_in_in_arrival_order() -> None:
    gate = Admission(1)
    await gate.enter()
    order: list[int] = []

    async def wait(n: int) -> None:
        await gate.enter()
        order.append(n)
        await asyncio.sleep(0)
        gate.leave()

    tasks = [asyncio.create_task(wait(n)) for n in range(5)]
    await asyncio.sleep(0)
    gate.leave()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="at least one place"):
        Admission(0)
