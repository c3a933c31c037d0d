"""The workers' Idempotency-Key housekeeping on the real PostgreSQL: claims past their replay
window go, younger ones stay."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from support.selftest import Workspace

from koshiqon.common.service import idempotency_housekeeping

pytestmark = pytest.mark.integration

CLAIM = (
    "INSERT INTO idempotency_keys (key, principal, route, request_hash, created_at) "
    "VALUES (:key, 'agency-a', 'POST /v1/persons', 'h', now() - make_interval(hours => :age))"
)


async def test_claims_older_than_a_day_are_purged(ws: Workspace) -> None:
    async with ws.engine.begin() as conn:
        for key, age in (("old", 25), ("older", 24 * 30), ("young", 23), ("new", 0)):
            await conn.execute(text(CLAIM), {"key": key, "age": age})
    stop = asyncio.Event()
    job = asyncio.create_task(idempotency_housekeeping(ws.engine, interval_seconds=60)(stop))
    for _ in range(100):
        if await ws.scalar("SELECT count(*) FROM idempotency_keys") == 2:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(job, timeout=5)
    async with ws.engine.connect() as conn:
        kept = (await conn.execute(text("SELECT key FROM idempotency_keys ORDER BY key"))).all()
    assert [row.key for row in kept] == ["new", "young"]


async def test_a_backlog_larger_than_a_batch_goes_in_one_round(ws: Workspace) -> None:
    """Responses can carry personal data: a backlog (a worker down for a while) must not
    outlive the round that finds it, however many batches it takes."""
    async with ws.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO idempotency_keys (key, principal, route, request_hash, created_at) "
                "SELECT 'k' || n, 'agency-a', 'POST /v1/persons', 'h', "
                "now() - interval '25 hours' FROM generate_series(1, 250) AS n"
            )
        )
    stop = asyncio.Event()
    job = idempotency_housekeeping(ws.engine, interval_seconds=3600, batch=40)
    task = asyncio.create_task(job(stop))
    for _ in range(100):
        if await ws.scalar("SELECT count(*) FROM idempotency_keys") == 0:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert await ws.scalar("SELECT count(*) FROM idempotency_keys") == 0
