"""The transactional outbox against the real PostgreSQL and the real Kafka."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from support.kafka import envelopes, read_topic, wait_for
from support.selftest import Workspace, counted, create_topic, fresh_contract, unpublished
from support.selftest import running_relay as relay

from koshiqon.common import outbox
from koshiqon.common.kafka import producer_settings
from koshiqon.common.outbox import OutboxRelay, outbox_lag

pytestmark = pytest.mark.integration


async def test_rolled_back_event_is_never_published_and_committed_one_is_once(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    rolled_back = counted(payload, key="a", seq=1)
    committed = counted(payload, key="a", seq=2)

    async def failing_use_case() -> None:
        async with ws.sessions() as session, session.begin():
            await outbox.add(session, rolled_back)
            raise RuntimeError("the use case fails after writing its event")

    with pytest.raises(RuntimeError):
        await failing_use_case()
    await ws.publish_via_outbox(committed)

    async with relay(ws, bootstrap):
        records = await read_topic(bootstrap, topic.name, at_least=1, settle=2.0)

    assert [e.id for e in envelopes(records)] == [committed.id]
    assert records[0].key == b"a"
    assert await unpublished(ws) == 0


async def test_two_relays_started_together_publish_each_event_once(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    events = [counted(payload, key=f"k{i % 7}", seq=i) for i in range(500)]
    await ws.publish_via_outbox(*events)

    async with relay(ws, bootstrap) as first, relay(ws, bootstrap) as second:
        records = await read_topic(bootstrap, topic.name, at_least=500, settle=2.0)
        assert first.active.is_set() != second.active.is_set()

    ids = [e.id for e in envelopes(records)]
    assert len(ids) == 500
    assert set(ids) == {e.id for e in events}


async def test_standby_takes_over_when_the_active_relay_stops(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    async with relay(ws, bootstrap, standby_retry=0.2) as standby:
        async with relay(ws, bootstrap, standby_retry=0.2) as active:
            await wait_for(_either_active(active, standby), timeout=15)
            leader, follower = (active, standby) if active.active.is_set() else (standby, active)
        # leaving the inner block stops `active`; if it led, `standby` must take over
        if leader is active:
            await asyncio.wait_for(follower.active.wait(), timeout=10)
        await ws.publish_via_outbox(counted(payload, key="after", seq=1))
        records = await read_topic(bootstrap, topic.name, at_least=1, timeout=15)
    assert len(records) == 1


def _either_active(a: OutboxRelay, b: OutboxRelay):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return a.active.is_set() or b.active.is_set()

    return check


async def test_per_key_order_holds_across_relay_restarts(ws: Workspace, bootstrap: str) -> None:
    payload, topic = fresh_contract(partitions=4)
    await create_topic(bootstrap, topic)
    keys = [f"person-{i}" for i in range(10)]
    total = 0
    for round_ in range(4):  # four relay lifetimes, each interrupted with events left over
        batch = [counted(payload, key=k, seq=round_ * 100 + n) for n in range(50) for k in keys]
        await ws.publish_via_outbox(*batch)
        total += len(batch)
        async with relay(ws, bootstrap, batch_size=50):
            await asyncio.sleep(0.3)

    async with relay(ws, bootstrap):
        records = await read_topic(bootstrap, topic.name, at_least=total, settle=2.0)

    seen: dict[str, list[int]] = defaultdict(list)
    for envelope in envelopes(records):
        seen[envelope.subject].append(int(envelope.data["seq"]))
    for key in keys:
        first_seen = list(dict.fromkeys(seen[key]))  # a redelivery repeats, never reorders
        assert first_seen == sorted(first_seen), key
        assert len(first_seen) == 200
    assert await unpublished(ws) == 0


async def test_lag_reports_count_and_age_of_unpublished(ws: Workspace, bootstrap: str) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    await ws.publish_via_outbox(*[counted(payload, key="x", seq=i) for i in range(3)])
    await asyncio.sleep(0.2)
    lag = await outbox_lag(ws.dsn, schema=ws.schema)
    assert lag.unpublished == 3
    assert lag.oldest_age_seconds > 0
    async with relay(ws, bootstrap):
        await wait_for(lambda: _empty(ws), timeout=15)
    assert (await outbox_lag(ws.dsn, schema=ws.schema)).unpublished == 0


async def _empty(ws: Workspace) -> bool:
    return await unpublished(ws) == 0


async def test_published_rows_are_deleted_after_retention(ws: Workspace, bootstrap: str) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    await ws.publish_via_outbox(*[counted(payload, key="x", seq=i) for i in range(5)])
    async with relay(ws, bootstrap, retention=timedelta(seconds=1), housekeeping_interval=0.5):
        await wait_for(lambda: _no_rows(ws), timeout=20)


async def _no_rows(ws: Workspace) -> bool:
    return await ws.scalar("SELECT count(*) FROM outbox") == 0


class SilentProducer(AIOKafkaProducer):  # type: ignore[misc]
    """Takes every record and never acknowledges one: a producer wedged after a broker
    restart, as in aiokafka issue 1017. The real broker cannot be made to do this on cue."""

    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()


async def test_a_producer_that_stops_acknowledging_is_replaced(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    made: list[AIOKafkaProducer] = []

    def producers() -> AIOKafkaProducer:
        settings = producer_settings(bootstrap, client_id=f"selftest-{len(made)}")
        made.append(SilentProducer(**settings) if not made else AIOKafkaProducer(**settings))
        return made[-1]

    await ws.publish_via_outbox(*[counted(payload, key="k", seq=i) for i in range(10)])
    async with relay(ws, bootstrap, producers, ack_timeout=1.0):
        records = await read_topic(bootstrap, topic.name, at_least=10, timeout=30)
        await wait_for(lambda: _empty(ws), timeout=10)
    assert len(records) == 10
    assert isinstance(made[0], SilentProducer)
    assert len(made) >= 2


async def test_standby_takes_over_within_seconds_when_the_active_relay_is_killed(
    ws: Workspace, bootstrap: str
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    victim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "support.relay_process", ws.dsn, ws.schema, bootstrap, env=env
    )
    try:
        await wait_for(lambda: _lock_held(ws), timeout=30)
        async with relay(ws, bootstrap, standby_retry=0.2) as standby:
            await asyncio.sleep(0.5)
            assert not standby.active.is_set(), "the process holds the lock"
            victim.kill()
            killed_at = time.monotonic()
            await asyncio.wait_for(standby.active.wait(), timeout=10)
            took = time.monotonic() - killed_at
            await ws.publish_via_outbox(counted(payload, key="after-kill", seq=1))
            records = await read_topic(bootstrap, topic.name, at_least=1, timeout=15)
    finally:
        if victim.returncode is None:
            victim.kill()
        await victim.wait()
    assert took < 5.0
    assert [e.subject for e in envelopes(records)] == ["after-kill"]


async def _lock_held(ws: Workspace) -> bool:
    held = await ws.scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE l.locktype = 'advisory' AND a.application_name = 'victim-outbox-relay'"
    )
    return held > 0
