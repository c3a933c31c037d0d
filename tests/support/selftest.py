"""A throwaway context for testing the event backbone: each test gets its own event type,
topic and PostgreSQL schema, so tests never see each other's events or rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import SecretStr
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid, func, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from koshiqon.common import outbox
from koshiqon.common.database import roles
from koshiqon.common.database.engine import create_engine, session_factory
from koshiqon.common.database.tables import new_metadata
from koshiqon.common.events.contracts import EventContract, EventPayload, event, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.outbox import OutboxRelay, ProducerFactory, RelayConfig
from koshiqon.common.settings import role_dsn
from koshiqon.common.topics import TopicSpec, ensure_topics


class Counted(EventPayload):
    """Base of the generated test payloads: which counter, and the event's place in its key."""

    counter: str
    seq: int


def fresh_contract(partitions: int = 3) -> tuple[type[Counted], TopicSpec]:
    suffix = uuid.uuid4().hex[:12]
    topic = TopicSpec(f"selftest.{suffix}.v1", partitions=partitions)
    payload = type(f"Counted_{suffix}", (Counted,), {"__module__": __name__})
    event("selftest", f"counted-{suffix}", topic=topic.name)(payload)
    return payload, topic


def counted(payload: type[Counted], *, key: str, seq: int) -> Envelope:
    return make_event(
        payload(counter=key, seq=seq),
        subject=key,
        source="/koshiqon/selftest",
        correlation_id=str(uuid.uuid4()),
    )


def contract(payload: type[Counted]) -> EventContract:
    return payload.contract


@dataclass
class Workspace:
    """One test's schema: the platform tables plus `effects`, one row per handled event."""

    schema: str
    dsn: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def publish_via_outbox(self, *events: Envelope) -> None:
        async with self.sessions() as session, session.begin():
            await outbox.add(session, *events)

    async def scalar(self, sql: str) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text(sql))).scalar_one())


def _metadata() -> MetaData:
    metadata = new_metadata()
    Table(
        "effects",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False),
        Column("counter", String(100), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("at", DateTime(timezone=True), server_default=func.now()),
    )
    return metadata


_swept: set[str] = set()


async def sweep_leftovers(admin_dsn: str) -> None:
    """Drop the schemas and roles that a killed earlier run left behind, once per test run.
    Only those created over an hour ago with no session open: a run in progress elsewhere
    (another checkout, a parallel run) keeps its own."""
    if admin_dsn in _swept:
        return
    _swept.add(admin_dsn)
    conn = await asyncpg.connect(roles.asyncpg_dsn(admin_dsn))
    try:
        stale = await conn.fetch(
            "SELECT nspname FROM ("
            "  SELECT nspname, obj_description(oid, 'pg_namespace') AS stamp FROM pg_namespace"
            "  WHERE nspname ~ '^t_[0-9a-f]{10}$') AS t "
            "WHERE (stamp IS NULL OR stamp !~ '^created '"
            "       OR substr(stamp, 9)::timestamptz < now() - interval '1 hour') "
            "AND nspname NOT IN (SELECT usename FROM pg_stat_activity WHERE usename IS NOT NULL)"
        )
    finally:
        await conn.close()
    for row in stale:
        await roles.drop_schema(admin_dsn, row["nspname"])
        await roles.drop_role(admin_dsn, row["nspname"])


async def create_test_role(admin_dsn: str, schema: str, password: str) -> None:
    """A role and schema for one test, stamped with its creation time for the sweep."""
    await roles.bootstrap(admin_dsn, {schema: password})
    conn = await asyncpg.connect(roles.asyncpg_dsn(admin_dsn))
    try:
        stamp = await conn.fetchval("SELECT quote_literal('created ' || now()::text)")
        await conn.execute(f'COMMENT ON SCHEMA "{schema}" IS {stamp}')
    finally:
        await conn.close()


@asynccontextmanager
async def workspace(admin_dsn: str) -> AsyncIterator[Workspace]:
    await sweep_leftovers(admin_dsn)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    await create_test_role(admin_dsn, schema, "selftest")
    dsn = role_dsn(admin_dsn, role=schema, password=SecretStr("selftest"))
    engine = create_engine(dsn, schema=schema, application="selftest", pool_size=5)
    async with engine.begin() as conn:
        await conn.run_sync(_metadata().create_all)
    try:
        yield Workspace(schema, dsn, engine, session_factory(engine))
    finally:
        await engine.dispose()
        await roles.drop_schema(admin_dsn, schema)
        await roles.drop_role(admin_dsn, schema)


async def create_topic(bootstrap: str, spec: TopicSpec) -> None:
    await ensure_topics(bootstrap, [spec])


async def record_effect(session: AsyncSession, envelope: Envelope, payload: EventPayload) -> None:
    """The handler of the tests: one `effects` row per handled event."""
    assert isinstance(payload, Counted)
    await session.execute(
        text("INSERT INTO effects (event_id, counter, seq) VALUES (:id, :counter, :seq)"),
        {"id": envelope.id, "counter": payload.counter, "seq": payload.seq},
    )


@asynccontextmanager
async def running_relay(
    ws: Workspace,
    bootstrap: str,
    producer_factory: ProducerFactory | None = None,
    *,
    service: str = "selftest",
    **overrides: Any,
) -> AsyncIterator[OutboxRelay]:
    """The workspace's outbox relay, running until the block ends (`overrides` go into its
    `RelayConfig`; `service` labels its metrics)."""
    config = RelayConfig(
        dsn=ws.dsn, schema=ws.schema, bootstrap=bootstrap, service=service, **overrides
    )
    runner = OutboxRelay(config, producer_factory=producer_factory)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield runner
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def unpublished(ws: Workspace) -> int:
    return await ws.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
