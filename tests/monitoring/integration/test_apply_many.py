"""Issue 14: `SqlProjectionRepository.apply_many` (a chunk's changes, one executemany per
statement) leaves the tables as `apply` for each event in turn does, on the real
PostgreSQL: the same events applied both ways, into the live `p_*` tables and into `rb_*`
copies, compared row for row. The events are chosen for the order the chunk must keep: a
flow whose kandas status is read from `persons` before and after the chunk's own persons
change it, a quota consumed before it is established and adjusted."""

from __future__ import annotations

import uuid

import pytest
from monitoring.helpers import ASTANA, NORTH_KAZ, PAVLODAR
from monitoring.streams import (
    emigrated,
    immigrated,
    moved,
    proposal_events,
    quota_events,
    registered,
    resettlement,
    stay,
)
from sqlalchemy import text
from support.services import ServiceSchema

from koshiqon.common.events.contracts import decode
from koshiqon.common.events.envelope import Envelope
from koshiqon.monitoring.adapters.tables import LIVE, PROJECTION_TABLES, REBUILD
from koshiqon.monitoring.domain.model import project
from koshiqon.monitoring.unit_of_work import SqlUnitOfWork

pytestmark = pytest.mark.integration


async def tables(schema: ServiceSchema, prefix: str) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    async with schema.engine.connect() as connection:
        for name in PROJECTION_TABLES:
            result = await connection.execute(text(f"SELECT * FROM {prefix}{name}"))
            out[name] = sorted(tuple(r) for r in result.all())
    return out


async def test_apply_many_leaves_the_tables_as_apply_one_by_one(schema: ServiceSchema) -> None:
    async with schema.engine.begin() as connection:
        for name in PROJECTION_TABLES:
            await connection.execute(
                text(f"CREATE TABLE {REBUILD}{name} (LIKE {LIVE}{name} INCLUDING ALL)")
            )
    known, newcomer, late, app, quota = (uuid.uuid4() for _ in range(5))
    before: list[Envelope] = [registered(known, kandas=True)]
    ledger = quota_events(quota, app, PAVLODAR)
    chunk: list[Envelope] = [
        immigrated(known, NORTH_KAZ),  # kandas from the row before the chunk
        immigrated(newcomer, ASTANA),  # no row yet: unknown
        registered(newcomer, kandas=False),
        moved(newcomer, ASTANA, NORTH_KAZ),  # the chunk's own row: other
        registered(known, kandas=False, status="foreigner"),
        emigrated(known, NORTH_KAZ),  # changed within the chunk: other
        emigrated(newcomer, ASTANA, kandas=True),  # the event says
        stay(late, PAVLODAR),  # unknown
        registered(late, kandas=True),
        stay(late, PAVLODAR),  # kandas
        immigrated(known, NORTH_KAZ),  # the chunk changed the row: other, a row of its own
        immigrated(newcomer, ASTANA),  # the same flow as the second, now other
        ledger["consumed"], ledger["reserved"], ledger["adjusted"], ledger["established"],
        *resettlement(app, PAVLODAR, 3), *resettlement(app, PAVLODAR, 2),
        *proposal_events(PAVLODAR),
    ]  # fmt: skip
    changes = [project(decode(e)) for e in before + chunk]
    async with schema.engine.connect() as connection:
        async with SqlUnitOfWork(connection, prefix=LIVE) as uow:
            for change in changes:
                await uow.projections.apply(change)
        async with SqlUnitOfWork(connection, prefix=REBUILD) as uow:
            await uow.projections.apply(changes[0])
            await uow.projections.apply_many(changes[1:])
        await connection.commit()
    one_by_one, at_once = await tables(schema, LIVE), await tables(schema, REBUILD)
    assert one_by_one == at_once
    kandas = sorted(str(r[6]) for r in one_by_one["flows"])
    assert kandas == ["kandas", "kandas", "other", "other", "other", "other", "other", "unknown"]
    assert sorted(str(r[6]) for r in one_by_one["registrations"]) == ["kandas", "unknown"]
    [quota_row] = one_by_one["quotas"]
    assert (quota_row[6], quota_row[9]) == (1000, 4)  # the later limit; consumed
