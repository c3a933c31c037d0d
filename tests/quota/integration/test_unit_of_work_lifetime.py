"""A quota unit of work, its repositories and its pooled transaction are freed by reference
counting as soon as the use case is done: nothing of a request is left for the cyclic
garbage collector (the ledger repository is given the unit of work's `Envelopes`, a value,
not a method bound to the unit of work, which made every reservation a reference cycle)."""

from __future__ import annotations

import gc
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from quota.helpers import ACTOR, PAVLODAR, Clock, designate
from support.services import ServiceSchema

from koshiqon.quota.bootstrap import bootstrap
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.model import Kind, Period, QuotaSpec, TerritoryKind
from koshiqon.quota.unit_of_work import SqlUnitOfWork, UnitOfWork

pytestmark = pytest.mark.integration


@contextmanager
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_a_reservations_units_of_work_are_freed_without_the_collector(
    schema: ServiceSchema, clock: Clock
) -> None:
    made: list[weakref.ref[UnitOfWork]] = []

    def uow() -> UnitOfWork:
        unit = SqlUnitOfWork(schema.engine)
        made.append(weakref.ref(unit))
        return unit

    bus = bootstrap(uow, now=clock)
    await designate(bus, PAVLODAR, TerritoryKind.MIGRANT)
    spec = QuotaSpec.of(kind=Kind.MIGRANT, region=PAVLODAR, period=Period.of(2026),
                        category=None, limit=10)  # fmt: skip
    await bus.handle(c.EstablishQuota(spec, actor=ACTOR))
    made.clear()
    with collector_off():
        for persons in (3, 30):  # reserved, then denied as exhausted
            await bus.handle(
                c.ReserveQuota(uuid.uuid4(), Kind.MIGRANT, PAVLODAR, 2026, persons, actor=ACTOR)
            )
        assert len(made) == 2
        assert [ref() for ref in made] == [None, None]
