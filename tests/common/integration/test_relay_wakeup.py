"""Waking the relay without NOTIFY (issue 12, item 7): a transaction that notifies takes a
lock for the whole cluster at its commit (bench/outbox_notify.py measures the cost), so
`outbox.add` no longer notifies and the relay looks at the outbox's partial index instead,
often while rows keep coming and less often, up to `poll_interval`, while none do."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from support.kafka import envelopes, read_topic, wait_for
from support.selftest import Workspace, counted, create_topic, fresh_contract, unpublished
from support.selftest import running_relay as relay

from koshiqon.common.database.roles import asyncpg_dsn

pytestmark = pytest.mark.integration


async def test_an_outbox_write_commits_without_notifying(ws: Workspace) -> None:
    payload, _ = fresh_contract()
    listener = await asyncpg.connect(asyncpg_dsn(ws.dsn))
    heard: list[str] = []
    try:
        await listener.add_listener(f"outbox_{ws.schema}", lambda *args: heard.append(args[2]))
        await ws.publish_via_outbox(counted(payload, key="k", seq=1))
        await listener.execute("SELECT 1")  # a round trip: a notification would be in by now
        await asyncio.sleep(1.0)
    finally:
        await listener.close()
    assert heard == []
    assert await unpublished(ws) == 1


async def test_rows_written_after_an_idle_spell_are_published_within_seconds(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    async with relay(ws, bootstrap) as runner:  # the default polling
        await asyncio.wait_for(runner.active.wait(), timeout=15)
        for seq in range(3):  # idle long enough to back off fully, then one row
            await asyncio.sleep(2.0)
            await ws.publish_via_outbox(counted(payload, key="k", seq=seq))
            await wait_for(lambda: _empty(ws), timeout=5, interval=0.05)
        records = await read_topic(bootstrap, topic.name, at_least=3, timeout=10)
    assert sorted(int(e.data["seq"]) for e in envelopes(records)) == [0, 1, 2]


async def test_a_burst_of_single_row_transactions_is_published_as_it_comes(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    async with relay(ws, bootstrap) as runner:
        await asyncio.wait_for(runner.active.wait(), timeout=15)
        for seq in range(200):
            await ws.publish_via_outbox(counted(payload, key=f"k{seq % 3}", seq=seq))
        await wait_for(lambda: _empty(ws), timeout=5, interval=0.05)
        records = await read_topic(bootstrap, topic.name, at_least=200, timeout=10)
    assert {int(e.data["seq"]) for e in envelopes(records)} == set(range(200))


async def _empty(ws: Workspace) -> bool:
    return await unpublished(ws) == 0
