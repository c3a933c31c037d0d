"""The outbox's retention delete (issue 12, item 6): indexed, on a connection and task of its
own beside the publish loop, in bounded batches that go on until it has caught up."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from support.kafka import read_topic, wait_for
from support.selftest import Workspace, counted, create_topic, fresh_contract
from support.selftest import running_relay as relay
from support.services import migrated_schema

from koshiqon.quota.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS
from koshiqon.registration.bootstrap import MIGRATIONS as REGISTRATION_MIGRATIONS

pytestmark = pytest.mark.integration

# rows published two hours ago, past a one-hour retention
OLD_PUBLISHED = (
    "INSERT INTO outbox (event_id, topic, key, event_type, value, published_at, created_at) "
    "SELECT gen_random_uuid(), 'gone', 'k', 'gone', '\\x00', now() - interval '2 hours', "
    "now() - interval '2 hours' FROM generate_series(1, {n})"
)


async def test_retention_deletes_in_batches_until_caught_up_while_publishing_goes_on(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    async with ws.engine.begin() as conn:
        await conn.exec_driver_sql(OLD_PUBLISHED.format(n=2500))
    blocker = await ws.engine.connect()
    try:
        # a transaction holds one of the old rows: the retention delete waits on it
        await blocker.begin()
        await blocker.exec_driver_sql(
            "SELECT id FROM outbox WHERE topic = 'gone' ORDER BY id LIMIT 1 FOR UPDATE"
        )
        async with relay(
            ws,
            bootstrap,
            retention=timedelta(hours=1),
            housekeeping_interval=600.0,  # one round: only batching can delete them all
            housekeeping_batch_size=200,
        ) as runner:
            await asyncio.wait_for(runner.active.wait(), timeout=15)
            await wait_for(lambda: _delete_waiting(ws), timeout=15)
            # while the delete waits, the relay goes on publishing
            await ws.publish_via_outbox(*[counted(payload, key="live", seq=i) for i in range(5)])
            records = await read_topic(bootstrap, topic.name, at_least=5, timeout=20)
            assert len(records) == 5
            await blocker.rollback()
            await wait_for(lambda: _old_rows_gone(ws), timeout=30)
    finally:
        await blocker.close()
    # what is within retention stays
    assert await ws.scalar("SELECT count(*) FROM outbox WHERE key = 'live'") == 5


async def _delete_waiting(ws: Workspace) -> bool:
    waiting = await ws.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE 'DELETE FROM outbox%' AND usename = current_user"
    )
    return waiting > 0


async def _old_rows_gone(ws: Workspace) -> bool:
    return await ws.scalar("SELECT count(*) FROM outbox WHERE topic = 'gone'") == 0


@pytest.mark.parametrize(
    "migrations", [REGISTRATION_MIGRATIONS, QUOTA_MIGRATIONS], ids=["registration", "quota"]
)
async def test_the_migrations_index_published_rows_for_the_retention_delete(
    admin_database_url: str, migrations: Path
) -> None:
    async with (
        migrated_schema(admin_database_url, migrations) as migrated,
        migrated.engine.connect() as conn,
    ):
        definition = await conn.scalar(
            text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexname = 'ix_outbox_published_at'"
            )
        )
    assert definition is not None
    assert "(published_at)" in definition
    assert "WHERE (published_at IS NOT NULL)" in definition
