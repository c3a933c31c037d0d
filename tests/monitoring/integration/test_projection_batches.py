"""Issue 14: the worker projecting in chunks of one transaction
(MONITORING_CONSUMER_TRANSACTION_BATCH) gives the tables that one transaction per event
gives, row for row, from the same streams with duplicates. Both workers read the same topics
in groups of their own, each into a schema of its own; `processed_events.processed_at` is its
transaction's start, so the chunks show as events sharing it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from monitoring.helpers import ASTANA, NORTH_KAZ, PAVLODAR, Clock
from monitoring.streams import (
    Topics,
    emigrated,
    fresh_topics,
    handled,
    immigrated,
    moved,
    produce,
    proposal_events,
    quota_events,
    registered,
    resettlement,
    running_worker,
    stay,
)
from sqlalchemy import text
from support.kafka import wait_for
from support.services import ServiceSchema, migrated_schema

from koshiqon.common.events.envelope import Envelope
from koshiqon.monitoring.adapters.tables import PROJECTION_TABLES
from koshiqon.monitoring.bootstrap import MIGRATIONS
from koshiqon.monitoring.config import MonitoringSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def other_schema(admin_database_url: str) -> AsyncIterator[ServiceSchema]:
    async with migrated_schema(admin_database_url, MIGRATIONS) as s:
        yield s


async def snapshot(schema: ServiceSchema) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    async with schema.engine.connect() as connection:
        for table in PROJECTION_TABLES:
            result = await connection.execute(text(f"SELECT * FROM p_{table}"))
            out[table] = sorted(tuple(r) for r in result.all())
    return out


def streams() -> tuple[list[Envelope], list[Envelope], list[Envelope]]:
    registration: list[Envelope] = []
    quotas: list[Envelope] = []
    proposals: list[Envelope] = []
    regions = (NORTH_KAZ, ASTANA, PAVLODAR)
    for i in range(30):
        region, other = regions[i % 3], regions[(i + 1) % 3]
        person, leaver, mover, app, quota = (uuid.uuid4() for _ in range(5))
        registration += [
            registered(person, kandas=i % 2 == 0), immigrated(person, region),
            moved(mover, region, other), emigrated(leaver, region, kandas=i % 3 == 0),
            stay(person, region), *resettlement(app, region, 1 + i % 4),
        ]  # fmt: skip
        ledger = quota_events(quota, app, region)
        quotas += [ledger["consumed"], ledger["reserved"], ledger["adjusted"],
                   ledger["established"]]  # fmt: skip
        proposals += proposal_events(region)
    return registration, quotas, proposals


async def test_chunked_and_per_event_projection_give_the_same_tables_row_for_row(
    schema: ServiceSchema, other_schema: ServiceSchema, bootstrap: str, clock: Clock
) -> None:
    topics: Topics = await fresh_topics(bootstrap)
    registration, quotas, proposals = streams()
    for topic, events in ((topics.registration, registration), (topics.quota, quotas),
                          (topics.proposals, proposals)):  # fmt: skip
        # each twice, and the first ones a third time at the end: redelivered duplicates
        await produce(bootstrap, topic, [e for e in events for _ in range(2)] + events[:5])
    everything = registration + quotas + proposals

    for target, batch in ((schema, 1), (other_schema, 500)):
        settings = MonitoringSettings(
            database_url=target.dsn, database_schema=target.schema, environment="test",
            topics=topics.all, kafka_bootstrap_servers=bootstrap,
            consumer_transaction_batch=batch,
        )  # fmt: skip
        group = f"monitoring-test-{uuid.uuid4().hex[:8]}"
        async with running_worker(settings, now=clock, group=group):
            await wait_for(handled(target, everything), timeout=120)

    per_event, chunked = await snapshot(schema), await snapshot(other_schema)
    assert per_event == chunked
    assert all(per_event[table] for table in ("flows", "registrations", "resettlement"))
    count = "SELECT count(*) FROM processed_events"
    transactions = "SELECT count(DISTINCT processed_at) FROM processed_events"
    assert await schema.scalar(count) == await other_schema.scalar(count) == len(everything)
    assert await schema.scalar(transactions) == len(everything)  # one per event
    assert await other_schema.scalar(transactions) < len(everything) // 4  # chunks
