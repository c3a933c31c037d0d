"""A frozen leader (issue 12, item 2): a relay process stopped with SIGSTOP keeps its sockets
open and its kernel answers TCP keepalives, yet a standby publishes within 30 s; resumed, the
old leader sends nothing more and stands by. Two relay processes with the default settings,
one schema, the real broker; the events are checked as a real idempotent consumer sees them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from support.kafka import envelopes, read_topic, wait_for
from support.selftest import (
    Counted,
    Workspace,
    counted,
    create_topic,
    fresh_contract,
    record_effect,
)
from support.selftest import running_relay as relay

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription
from koshiqon.common.events.envelope import Envelope

pytestmark = pytest.mark.integration

FAILOVER_DEADLINE = 30.0  # the bound: a standby publishes within 30 s of the freeze


@contextlib.asynccontextmanager
async def relay_process(
    ws: Workspace, bootstrap: str, name: str, journal: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    paths = [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "support.relay_process", ws.dsn, ws.schema, bootstrap,
        "--name", name, "--journal", str(journal), env=env,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def writing_steadily(
    ws: Workspace, payload: type[Counted], written: list[Envelope]
) -> AsyncIterator[None]:
    """One event per transaction, every 50 ms, over five keys, until the block ends."""

    async def write() -> None:
        seq = 0
        while True:
            event = counted(payload, key=f"person-{seq % 5}", seq=seq)
            await ws.publish_via_outbox(event)
            written.append(event)
            seq += 1
            await asyncio.sleep(0.05)

    task = asyncio.create_task(write())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def lock_holders(ws: Workspace, *names: str) -> list[str]:
    """Which of the named relays hold an advisory lock (of this schema: the names are its own)."""
    async with ws.engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = ANY($1)",
            ([f"{name}-outbox-relay" for name in names],),
        )
        return [row[0].removesuffix("-outbox-relay") for row in rows]


async def sessions_of(ws: Workspace, name: str, *, since: datetime | None = None) -> int:
    """How many sessions the named relay has open (of those begun after `since`, if given)."""
    async with ws.engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT count(*) FILTER (WHERE backend_start > coalesce($2::timestamptz, '-infinity')),"
            " count(*) FROM pg_stat_activity WHERE application_name = $1",
            (f"{name}-outbox-relay", since),
        )
        return int(rows.one()[0])


async def server_clock(ws: Workspace) -> datetime:
    async with ws.engine.connect() as conn:
        now: datetime = (await conn.exec_driver_sql("SELECT clock_timestamp()")).scalar_one()
        return now


def journal(path: Path) -> list[tuple[float, str]]:
    """What a relay process handed its producer: (unix time, event id) per record."""
    if not path.exists():
        return []
    entries = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(float(at), event_id) for at, event_id in entries]


async def published(ws: Workspace, event: Envelope) -> bool:
    count = await ws.scalar(
        f"SELECT count(*) FROM outbox WHERE event_id = '{event.id}' AND published_at IS NOT NULL"
    )
    return count == 1


async def test_a_frozen_leader_is_replaced_and_stands_by_once_resumed(
    ws: Workspace, bootstrap: str, tmp_path: Path
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    a, b = f"a-{ws.schema}", f"b-{ws.schema}"
    written: list[Envelope] = []
    async with relay_process(ws, bootstrap, a, tmp_path / "a") as first:
        await wait_for(lambda: _holds(ws, a, a, b), timeout=30)
        async with relay_process(ws, bootstrap, b, tmp_path / "b"):
            await wait_for(lambda: _sessions_since(ws, b, None), timeout=30)  # standing by
            async with writing_steadily(ws, payload, written):
                await wait_for(lambda: _sent_some(tmp_path / "a"), timeout=30)

                first.send_signal(signal.SIGSTOP)  # mid-stream: a drain may be in flight
                stopped_at = time.monotonic()
                sentinel = counted(payload, key="after-the-freeze", seq=0)
                await ws.publish_via_outbox(sentinel)
                written.append(sentinel)
                await wait_for(lambda: published(ws, sentinel), timeout=FAILOVER_DEADLINE)
                assert time.monotonic() - stopped_at < FAILOVER_DEADLINE
                assert str(sentinel.id) in {event_id for _, event_id in journal(tmp_path / "b")}

                resumed_at, resumed_on_server = time.time(), await server_clock(ws)
                first.send_signal(signal.SIGCONT)
                # it notices it lost the lock, closes its sessions and competes again on a
                # new one, while the new leader keeps the lock
                await wait_for(lambda: _standing_by(ws, a, b, resumed_on_server), timeout=30)
                await asyncio.sleep(3.0)  # the writes go on: they are the new leader's alone
                assert await lock_holders(ws, a, b) == [b]
                assert await _standing_by(ws, a, b, resumed_on_server)
                assert first.returncode is None
            await wait_for(lambda: _all_published(ws), timeout=30)
    # the old leader handed its producer nothing once resumed
    assert [event_id for at, event_id in journal(tmp_path / "a") if at >= resumed_at] == []

    records = await read_topic(bootstrap, topic.name, at_least=len(written), settle=2.0)
    assert {e.id for e in envelopes(records)} == {e.id for e in written}
    effects = await consume_idempotently(ws, bootstrap, topic.name, payload, len(written))
    assert sorted(effects) == sorted(str(e.id) for e in written)


async def test_a_running_leader_keeps_its_lock_over_many_leases(
    ws: Workspace, bootstrap: str
) -> None:
    """The lock's session is ended after `lease` seconds without a statement: a leader's
    confirmations keep it, idle or busy, on the same session for as long as it runs."""
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    async with relay(
        ws, bootstrap, service=f"lease-{ws.schema}", lease=3.0, standby_retry=0.2
    ) as runner:
        await asyncio.wait_for(runner.active.wait(), timeout=15)
        holder = await lock_session(ws, f"lease-{ws.schema}")
        for seq in range(9):  # 9 s: three leases, idle spells and writes in turn
            await asyncio.sleep(1.0)
            await ws.publish_via_outbox(counted(payload, key="k", seq=seq))
            assert runner.active.is_set()
            assert await lock_session(ws, f"lease-{ws.schema}") == holder
        await wait_for(lambda: _all_published(ws), timeout=10)
    records = await read_topic(bootstrap, topic.name, at_least=9, settle=1.0)
    assert sorted(int(e.data["seq"]) for e in envelopes(records)) == list(range(9))


async def lock_session(ws: Workspace, name: str) -> int | None:
    """The backend pid of the named relay's session that holds an advisory lock."""
    async with ws.engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1",
            (f"{name}-outbox-relay",),
        )
        pids = [int(row[0]) for row in rows]
        return pids[0] if len(pids) == 1 else None


async def consume_idempotently(
    ws: Workspace, bootstrap: str, topic: str, payload: type[Counted], expected: int
) -> list[str]:
    """Run a real consumer group over the whole topic: the event id of each effect it had."""
    runner = ConsumerRunner(
        Subscription(
            group=f"selftest-failover-{uuid.uuid4().hex[:8]}",
            topics=[topic],
            handlers={payload.contract.type: record_effect},
        ),
        ws.sessions,
        ConsumerConfig(bootstrap=bootstrap),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await wait_for(lambda: _effects_at_least(ws, expected), timeout=60)
        await asyncio.sleep(2.0)  # the duplicates after them, if any, are handled too
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    async with ws.engine.connect() as conn:
        rows = await conn.exec_driver_sql("SELECT event_id::text FROM effects")
        return [row[0] for row in rows]


async def _holds(ws: Workspace, name: str, *names: str) -> bool:
    return await lock_holders(ws, *names) == [name]


async def _sessions_since(ws: Workspace, name: str, since: datetime | None) -> bool:
    return await sessions_of(ws, name, since=since) > 0


async def _standing_by(ws: Workspace, old: str, new: str, resumed: datetime) -> bool:
    """`new` holds the lock; `old` has one session, opened since it was resumed: a standby's."""
    if await lock_holders(ws, old, new) != [new]:
        return False
    return await sessions_of(ws, old) == 1 == await sessions_of(ws, old, since=resumed)


async def _sent_some(path: Path) -> bool:
    return len(journal(path)) >= 20


async def _all_published(ws: Workspace) -> bool:
    return await ws.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def _effects_at_least(ws: Workspace, expected: int) -> bool:
    return await ws.scalar("SELECT count(*) FROM effects") >= expected
