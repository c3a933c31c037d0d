"""The reserving statement on the real schema (issue 12, item 22): its outbox rows are the
envelopes `outbox.add` would write, byte for byte, with the figures only SQL knows filled in
(quota-reserved's and an exhausted quota-denied's `remaining`, the thresholds' counters); the
90 % and 100 % thresholds are published once each; the quota row's lock ends with the
statement, before the unit of work's commit; a repeat re-publishes its first outcome."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import orjson
import pytest
from quota.helpers import ACTOR, PAVLODAR, designate
from support.services import ServiceSchema

from koshiqon.common.database import roles
from koshiqon.common.events.contracts import decode
from koshiqon.common.events.envelope import Envelope
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.model import Kind, Period, Quota, QuotaSpec, TerritoryKind
from koshiqon.quota.unit_of_work import SqlUnitOfWork

pytestmark = pytest.mark.integration


async def migrant_quota(bus: Bus, limit: int) -> Quota:
    await designate(bus, PAVLODAR, TerritoryKind.MIGRANT)
    spec = QuotaSpec.of(kind=Kind.MIGRANT, region=PAVLODAR, period=Period.of(2026),
                        category=None, limit=limit)  # fmt: skip
    return await bus.handle(c.EstablishQuota(spec, actor=ACTOR))


def reserve(persons: int, app: uuid.UUID | None = None) -> c.ReserveQuota:
    return c.ReserveQuota(app or uuid.uuid4(), Kind.MIGRANT, PAVLODAR, 2026, persons, actor=ACTOR)


async def outbox_rows(schema: ServiceSchema, key: object) -> list[Any]:
    conn = await asyncpg.connect(roles.asyncpg_dsn(schema.dsn),
                                 server_settings={"search_path": schema.schema})  # fmt: skip
    try:
        return list(await conn.fetch("SELECT * FROM outbox WHERE key = $1 ORDER BY id", str(key)))
    finally:
        await conn.close()


def envelope_of(row: Any) -> Envelope:
    """The row's event, checked to be what `outbox.add` writes for it."""
    event = Envelope.from_bytes(row["value"])
    assert event.to_bytes() == row["value"]  # the envelope's own serialization, to the byte
    assert (row["event_id"], row["event_type"], row["topic"]) == (event.id, event.type, "quota.v1")
    headers = orjson.loads(row["headers"])
    assert (headers["ce_id"], headers["ce_type"]) == (str(event.id), event.type)
    decode(event)  # valid against its contract
    return event


async def test_the_outcome_and_threshold_events_carry_the_figures_sql_decided(
    bus: Bus, schema: ServiceSchema
) -> None:
    quota = await migrant_quota(bus, 10)
    first, last, refused = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await bus.handle(reserve(9, first))
    await bus.handle(reserve(1, last))
    await bus.handle(reserve(2, refused))
    (reserved,) = [envelope_of(r) for r in await outbox_rows(schema, first)]
    assert reserved.name == "quota-reserved"
    assert (reserved.data["remaining"], reserved.data["quota_id"]) == (1, str(quota.id))
    (denied,) = [envelope_of(r) for r in await outbox_rows(schema, refused)]
    assert (denied.data["reason"], denied.data["remaining"]) == ("exhausted", 0)
    thresholds = [envelope_of(r) for r in await outbox_rows(schema, quota.id)][1:]
    figures = [(t.data["threshold"], t.data["limit"], t.data["reserved"], t.data["consumed"])
               for t in thresholds]  # fmt: skip
    assert figures == [("90", 10, 9, 0), ("100", 10, 10, 0)]  # once each, as each was reached
    assert all(t.name == "quota-threshold-reached" for t in thresholds)


async def test_a_repeat_writes_its_first_outcome_again(bus: Bus, schema: ServiceSchema) -> None:
    await migrant_quota(bus, 5)
    app = uuid.uuid4()
    await bus.handle(reserve(3, app))
    await bus.handle(reserve(1))
    await bus.handle(reserve(3, app))
    first, again = [envelope_of(r) for r in await outbox_rows(schema, app)]
    assert first.id != again.id
    # remaining 2, reserved_at as first published; the repeat marked (counted once)
    assert (first.data["repeat"], again.data["repeat"]) == (False, True)
    assert first.data == {**again.data, "repeat": False}
    assert first.data["remaining"] == 2


async def test_the_last_statement_releases_its_locks_before_the_commit(
    bus: Bus, schema: ServiceSchema
) -> None:
    quota = await migrant_quota(bus, 5)
    other = await asyncpg.connect(roles.asyncpg_dsn(schema.dsn),
                                  server_settings={"search_path": schema.schema})  # fmt: skip
    try:
        async with SqlUnitOfWork(schema.engine) as uow:
            await uow.transaction.last(
                "UPDATE quotas SET version = version + 1 WHERE id = $1 RETURNING id", quota.id
            )
            async with other.transaction():  # not blocked: the row is not locked any more
                await other.execute("SET LOCAL lock_timeout = '2s'")
                assert await other.fetchval(
                    "SELECT version FROM quotas WHERE id = $1 FOR UPDATE NOWAIT", quota.id
                ) == quota.version + 1  # fmt: skip
            await uow.commit()
    finally:
        await other.close()
